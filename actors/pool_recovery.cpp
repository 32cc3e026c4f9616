// The pool actor after a plugin restart: what runs now, from the saved
// state, the run/ folder (nginx keeps its pid file current, we keep the
// applications') and the keepers that held the pool's sockets meanwhile.

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/pool_flows.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::pool {
namespace {

/// What a blocking worker found out about the pool's processes and sockets.
struct recovery_facts {
  std::vector<iis::app_runtime> web;  ///< from web.config; empty when unreadable
  iis::process_ref saved_master;
  iis::process_ref master;
  std::vector<iis::process_ref> master_workers;
  std::vector<std::tuple<std::size_t, iis::process_ref, std::int32_t>> live_apps;  ///< plan index
  std::vector<std::pair<std::size_t, iis::process_ref>> dead_apps;                 ///< plan index
  std::shared_ptr<unique_fd> kept_listener;
  bool front_serves = false;  ///< its marker: the front served the files
};

recovery_facts gather(const iis::site_plan& plan, std::size_t index, const iis::saved_pool& saved,
                      iis::pool_status status, iis::launcher& launcher, iis::site_host& host) {
  recovery_facts facts;
  facts.saved_master = saved.master;
  try {
    facts.web = host.read_pool_apps(plan, index);
  } catch (const std::exception&) {
    // Keep the saved kinds; a restart will report the problem.
  }
  facts.master = host.running_pool_master(plan, index);
  facts.front_serves = plan.pools[index].single_hop && host.front_serves_marked(plan, index);
  if (!facts.master.pid && launcher.alive(saved.master)) facts.master = saved.master;
  for (const auto& app : saved.apps) {
    if (auto running = host.running_app(plan, app.app))
      facts.live_apps.emplace_back(app.app, running->first, running->second);
    else if (launcher.alive(app.process))
      facts.live_apps.emplace_back(app.app, app.process, app.port);
    else
      facts.dead_apps.emplace_back(app.app, app.process);
  }
  const auto& data_dir = plan.data_dir;
  if (status == iis::pool_status::stopped) {
    // Leftovers of a stop that the restart interrupted.
    std::vector<iis::process_ref> leftovers;
    if (facts.master.pid) leftovers.push_back(facts.master);
    for (const auto& [app, process, port] : facts.live_apps) leftovers.push_back(process);
    kill_all(launcher, leftovers);
    host.stop_keeper(iis::layout::pool_keeper_record(data_dir, index));
    for (const auto& app : saved.apps)
      host.stop_keeper(iis::layout::app_keeper_record(data_dir, app.app));
    return facts;
  }
  // Requests parked for an app that has started meanwhile: resetting them
  // (the keeper's copy is the last one) sends the front to the app's port.
  for (const auto& [app, process, port] : facts.live_apps)
    host.stop_keeper(iis::layout::app_keeper_record(data_dir, app));
  if (facts.master.pid) {
    facts.master_workers = launcher.children(facts.master);
    // The listener the pool's nginx inherited, kept while we were gone.
    if (auto kept = host.take_back_socket(iis::layout::pool_keeper_record(data_dir, index)))
      facts.kept_listener = std::make_shared<unique_fd>(std::move(kept->fd));
  }
  return facts;
}

pool_actor_state::app_state* app_of(pool_actor_ptr self, std::size_t plan_index) {
  for (auto& app : self->state.apps) {
    if (app.runtime.app == plan_index) return &app;
  }
  return nullptr;
}

/// Idle: our sockets died with the plugin, new ones take over their names.
void recover_idle(pool_actor_ptr self, finished_fn finished) {
  self->state.idle = true;
  auto failed = [self, finished](const iis::failure& error) {
    emit(self, "application pool " + pool_name(self) +
                   " cannot wait for requests after the plugin restart (" + error.message +
                   "); stopping it");
    stop_pool(self, [finished](std::optional<iis::failure>) { finished(); });
  };
  auto arm = [self, finished, failed](std::optional<iis::failure> error) {
    if (error) {
      failed(*error);
      return;
    }
    arm_activation(self, [self, finished, failed](std::optional<iis::failure> error) {
      if (error) {
        failed(*error);
        return;
      }
      arm_periodic_restart(self);
      finished();
    });
  };
  if (has_static(self))
    open_listener(self, arm);
  else
    arm(std::nullopt);
}

void apply(pool_actor_ptr self, recovery_facts facts, finished_fn finished) {
  auto& st = self->state;
  for (auto& fresh : facts.web) {
    if (auto* app = app_of(self, fresh.app)) {
      if (app->runtime.handler && fresh.handler) app->runtime.handler = fresh.handler;
      app->runtime.max_body = fresh.max_body;
    }
  }
  st.master = iis::process_ref{};
  for (auto& app : st.apps) app.process = iis::process_ref{};
  if (st.status == iis::pool_status::stopped) {
    finished();
    return;
  }
  if (!facts.master.pid && facts.live_apps.empty() && facts.front_serves && can_front_serve(self)) {
    // The front (recovered with the site) serves the files: nothing of ours runs.
    st.idle = false;
    st.front_serves = true;
    st.counts.worker_starts = 0;
    arm_periodic_restart(self);
    arm_idle_check(self);
    finished();
    return;
  }
  if (!facts.master.pid && facts.live_apps.empty() &&
      st.pool().start_mode == config::start_mode::on_demand) {
    recover_idle(self, finished);
    return;
  }
  st.idle = false;
  for (const auto& [index, process, port] : facts.live_apps) {
    if (auto* app = app_of(self, index)) {
      app->process = process;
      app->runtime.port = port;
    }
  }
  if (facts.kept_listener) st.listener = std::move(*facts.kept_listener);
  std::vector<operation> repairs;
  if (facts.master.pid) {
    // Its nginx holds the pool's socket; without a keeper's copy we open a
    // new one when it next stops.
    st.master = facts.master;
    track(self, facts.master, role::master);
    for (const auto& worker : facts.master_workers) track(self, worker, role::worker);
    if (facts.master_workers.empty()) {
      // A keeper started it just now: its worker comes in a moment.
      repairs.push_back([self](finished_fn done) {
        adopt_workers(self, self->state.master, self->clock().now() + adopt_limit,
                      [done](auto) { done(); });
      });
    }
  } else if (has_static(self)) {
    // Its nginx master died while we were gone: the repair a crash gets.
    repairs.push_back([self, old = facts.saved_master](finished_fn done) {
      repair_pool_master(self, old, iis::exit_status{}, done);
    });
  }
  for (std::size_t i = 0; i < st.apps.size(); ++i) {
    if (st.apps[i].process.pid) track(self, st.apps[i].process, role::app, i);
  }
  st.counts.worker_starts = 0;  // taken over, not started: counting begins now
  for (const auto& [index, old] : facts.dead_apps) {
    for (std::size_t i = 0; i < st.apps.size(); ++i) {
      if (st.apps[i].runtime.app != index) continue;
      repairs.push_back([self, i, old = old](finished_fn done) {
        restart_app(self, i, old, iis::exit_status{}, done);
      });
    }
  }
  arm_periodic_restart(self);
  arm_idle_check(self);
  for (auto& repair : repairs) run_exclusive(self, std::move(repair));
  finished();
}

}  // namespace

void recover(pool_actor_ptr self, const iis::saved_pool& saved) {
  auto& st = self->state;
  auto status = saved.status;
  // An operation was cut short by the restart: finish it in the safe direction.
  if (status == iis::pool_status::starting) status = iis::pool_status::started;
  if (status == iis::pool_status::stopping) status = iis::pool_status::stopped;
  // Since StartTask a pool may have been stopped or started on request.
  const bool stopped_marker = st.host().pool_stopped_marked(st.plan(), st.index);
  if (stopped_marker) status = iis::pool_status::stopped;
  if (!stopped_marker && status == iis::pool_status::stopped) status = iis::pool_status::started;
  st.status = status;
  st.master = saved.master;
  for (const auto& app : saved.apps) {
    if (auto* state = app_of(self, app.app)) {
      state->runtime.port = app.port;
      state->process = app.process;
      state->runtime.handler = iis::process_handler{};  // refined from web.config
    }
  }
  run_exclusive(self, [self, saved, status](finished_fn recovered) {
    // The front learns the routes it serves now, for its next configuration.
    finished_fn finished = [self, recovered] {
      self->send(self->state.front, msg::front_routes{routes_of(self)});
      recovered();
    };
    auto plan = self->state.ctx.plan;
    auto launcher = self->state.ctx.launcher;
    pool_job<recovery_facts>(
        self,
        [plan, index = self->state.index, saved, status, launcher, host = self->state.ctx.host] {
          return gather(*plan, index, saved, status, *launcher, *host);
        },
        [self, finished](job_result<recovery_facts> facts) {
          if (!facts.ok()) {
            emit(self, "application pool " + pool_name(self) +
                           " could not be recovered: " + facts.error.message);
            finished();
            return;
          }
          apply(self, std::move(*facts.value), finished);
        });
  });
}

}  // namespace nomad_iis::pool
