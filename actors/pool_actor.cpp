// The pool actor's mailbox and bookkeeping: its operations one at a time,
// the processes it watches, and the view of the pool its task actor keeps.

#include "actors/pool_actor.hpp"

#include <signal.h>

#include <algorithm>

#include <caf/all.hpp>

#include "actors/pool_flows.hpp"
#include "messages/error.hpp"
#include "messages/messages.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace pool {

void run_exclusive(pool_actor_ptr self, operation op) {
  self->state.ops.run(std::move(op));
  // What the operation changed at once (Stopping, Starting) is news already.
  publish(self);
}

void preempt(pool_actor_ptr self) {
  self->state.ops.preempt();
  self->state.polls.clear();
}

msg::pool_view view_of(pool_actor_ptr self) {
  const auto& st = self->state;
  msg::pool_view view;
  view.pool = st.index;
  view.status = st.status;
  view.idle = st.idle;
  view.front_serves = st.front_serves && !st.taking_over;
  view.master = st.master;
  if (st.master.pid) view.all.push_back(st.master);
  for (const auto& [pid, item] : st.processes) {
    if (!(item.ref == st.master)) view.all.push_back(item.ref);
    if (!item.retiring && item.kind != role::master) view.workers.push_back(item.ref);
  }
  for (const auto& app : st.apps) {
    if (app.runtime.handler)
      view.apps.push_back(iis::saved_app{app.runtime.app, app.runtime.port, app.process});
  }
  view.counts = st.counts;
  return view;
}

bool same_view(const msg::pool_view& a, const msg::pool_view& b) {
  auto same_apps = [](const std::vector<iis::saved_app>& x, const std::vector<iis::saved_app>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const auto& l, const auto& r) {
      return l.app == r.app && l.port == r.port && l.process == r.process;
    });
  };
  const auto& x = a.counts;
  const auto& y = b.counts;
  const bool same_counts = x.worker_starts == y.worker_starts &&
                           x.worker_crashes == y.worker_crashes && x.recycles == y.recycles &&
                           x.rapid_fail_trips == y.rapid_fail_trips;
  return a.status == b.status && a.idle == b.idle && a.front_serves == b.front_serves &&
         a.master == b.master && a.workers == b.workers && a.all == b.all &&
         same_apps(a.apps, b.apps) && same_counts;
}

void publish(pool_actor_ptr self) {
  auto view = view_of(self);
  auto& last = self->state.last_view;
  if (last && same_view(*last, view)) return;
  last = view;
  if (auto owner = caf::actor_cast<caf::actor>(self->state.ctx.owner))
    self->send(owner, std::move(view));
}

void track(pool_actor_ptr self, const iis::process_ref& ref, role kind, std::size_t app) {
  if (ref.pid <= 0) return;
  auto& processes = self->state.processes;
  auto [it, inserted] = processes.emplace(ref.pid, pool_actor_state::tracked{ref, kind, app});
  if (!inserted) {
    if (it->second.ref == ref) return;  // already watched
    it->second = pool_actor_state::tracked{ref, kind, app};
  }
  if (kind != role::master) ++self->state.counts.worker_starts;
  it->second.watch = watch_process(self, self->state.launcher(), ref);
  publish(self);
}

void forget(pool_actor_ptr self, const std::vector<iis::process_ref>& processes) {
  // Only our bookkeeping: the monitor's watch stays until the exit, so the
  // process is reaped (a zombie would otherwise stay until the plugin ends).
  auto& tracked = self->state.processes;
  for (const auto& process : processes) {
    auto it = tracked.find(process.pid);
    if (it != tracked.end() && it->second.ref == process) tracked.erase(it);
  }
  publish(self);
}

void set_retiring(pool_actor_ptr self, const std::vector<iis::process_ref>& processes, bool value) {
  for (const auto& process : processes) {
    auto it = self->state.processes.find(process.pid);
    if (it != self->state.processes.end() && it->second.ref == process) it->second.retiring = value;
  }
}

std::vector<iis::process_ref> pool_processes(pool_actor_ptr self) {
  const auto& st = self->state;
  std::vector<iis::process_ref> out;
  if (st.master.pid) out.push_back(st.master);
  for (const auto& [pid, item] : st.processes) {
    if (std::find(out.begin(), out.end(), item.ref) == out.end()) out.push_back(item.ref);
  }
  for (const auto& app : st.apps) {
    if (app.process.pid && std::find(out.begin(), out.end(), app.process) == out.end())
      out.push_back(app.process);
  }
  return out;
}

bool has_static(pool_actor_ptr self) {
  const auto& apps = self->state.apps;
  return std::any_of(apps.begin(), apps.end(), [](const auto& a) { return !a.runtime.handler; });
}

bool has_apps(pool_actor_ptr self) {
  const auto& apps = self->state.apps;
  return std::any_of(apps.begin(), apps.end(), [](const auto& a) { return a.runtime.handler; });
}

bool can_front_serve(pool_actor_ptr self) {
  return self->state.pool().single_hop && has_static(self) && !has_apps(self);
}

bool can_idle(pool_actor_ptr self) {
  const auto& pool = self->state.pool();
  return pool.start_mode == config::start_mode::on_demand ||
         (pool.idle_timeout && pool.idle_timeout->count() > 0);
}

bool record_crash(pool_actor_ptr self) {
  auto& st = self->state;
  const auto now = self->clock().now();
  st.crashes.push_back(now);
  ++st.counts.worker_crashes;
  while (!st.crashes.empty() && now - st.crashes.front() > st.pool().rapid_fail_interval)
    st.crashes.pop_front();
  const bool trips =
      static_cast<std::int64_t>(st.crashes.size()) > st.pool().rapid_fail_max_crashes;
  if (trips) ++st.counts.rapid_fail_trips;
  return trips;
}

void mark_stopped(pool_actor_ptr self) {
  auto& st = self->state;
  st.status = iis::pool_status::stopped;
  st.idle = false;
  st.waking = false;
  st.front_serves = false;
  st.master = iis::process_ref{};
  for (auto& app : st.apps) app.process = iis::process_ref{};
  publish(self);
}

std::string pool_name(pool_actor_ptr self) {
  return self->state.pool().name;
}

void emit(pool_actor_ptr self, const std::string& message) {
  nomad_iis::emit(self, self->state.ctx, message, {{"pool", pool_name(self)}});
}

iis::failure pool_failure(pool_actor_ptr self, iis::failure error) {
  error.message = "application pool " + pool_name(self) + ": " + error.message;
  return error;
}

iis::failure recycle_failure(pool_actor_ptr self, iis::failure error) {
  error.message = "recycle of application pool " + pool_name(self) + ": " + error.message;
  return error;
}

void kill_and_forget(pool_actor_ptr self, std::vector<iis::process_ref> processes,
                     std::function<void(std::vector<iis::process_ref>)> next) {
  auto killed = kill_all(self->state.launcher(), processes);
  wait_gone(self, self->state.polls, self->state.launcher(), killed,
            self->clock().now() + kill_grace,
            [self, processes, killed, next = std::move(next)](std::vector<iis::process_ref> left) {
              forget(self, processes);
              forget(self, killed);
              next(std::move(left));
            });
}

void drain(pool_actor_ptr self, iis::duration limit, int app_signal,
           std::function<void(std::vector<iis::process_ref>)> next) {
  const auto processes = pool_processes(self);
  auto& st = self->state;
  for (const auto& process : processes) {
    auto it = st.processes.find(process.pid);
    const bool is_app = it != st.processes.end() && it->second.kind == role::app;
    if (st.master == process) st.launcher().signal(process, SIGQUIT);  // workers finish requests
    if (is_app) st.launcher().signal(process, app_signal);
  }
  wait_gone(self, st.polls, st.launcher(), processes, self->clock().now() + limit,
            [self, processes, next = std::move(next)](std::vector<iis::process_ref> left) {
              kill_and_forget(self, std::move(left),
                              [self, processes, next](std::vector<iis::process_ref> survivors) {
                                forget(self, processes);
                                next(std::move(survivors));
                              });
            });
}

}  // namespace pool

namespace {

using namespace pool;

/// Answers `rp` once `flow` (one operation of the pool) reports.
template <class Flow>
caf::result<void> exclusive_reply(pool_actor_ptr self, Flow flow) {
  auto rp = self->make_response_promise();
  run_exclusive(self, [self, rp, flow](finished_fn finished) mutable {
    flow([self, rp, finished](std::optional<iis::failure> error) mutable {
      // The view first: the reply's receiver (the task actor) saves state
      // from it as soon as the reply comes.
      publish(self);
      if (error)
        rp.deliver(to_error(*error));
      else
        rp.deliver(caf::unit);
      finished();
    });
  });
  return rp;
}

}  // namespace

caf::behavior pool_actor(pool_actor_ptr self, site_context ctx, std::size_t index, caf::actor front,
                         pool_origin origin) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.index = index;
  st.front = std::move(front);
  st.last_activity = self->clock().now();
  st.ops.after_each([self] { publish(self); });
  for (std::size_t i = 0; i < st.plan().applications.size(); ++i) {
    if (st.plan().applications[i].pool != st.pool().name) continue;
    pool_actor_state::app_state app;
    app.runtime.app = i;
    st.apps.push_back(std::move(app));
  }
  if (origin.recovered) recover(self, *origin.recovered);
  took_oom_kill(self);  // kills before now are not news
  arm_memory_check(self);
  publish(self);
  return {
      [self](msg::pool_prepare) -> caf::result<msg::pool_prepared> {
        auto rp = self->make_response_promise<msg::pool_prepared>();
        run_exclusive(self, [self, rp](finished_fn finished) mutable {
          prepare(self, [self, rp, finished](std::optional<iis::failure> error) mutable {
            publish(self);
            if (error)
              rp.deliver(to_error(*error));
            else
              rp.deliver(msg::pool_prepared{routes_of(self)});
            finished();
          });
        });
        return rp;
      },
      [self](msg::pool_launch) {
        return exclusive_reply(self, [self](step done) { launch(self, std::move(done)); });
      },
      [self](msg::pool_request& request) {
        const auto op = request.op;
        const bool all = request.all;
        return exclusive_reply(self, [self, op, all](step done) {
          switch (op) {
            case msg::pool_op::start:
              start_pool(self, std::move(done));
              break;
            case msg::pool_op::stop:
              stop_pool(self, std::move(done));
              break;
            default:
              recycle_pool(self, all, std::move(done));
              break;
          }
        });
      },
      [self](msg::pool_shutdown& request) {
        preempt(self);  // a stop is not held up by a recycle or a repair in flight
        return exclusive_reply(self, [self, request](step done) {
          shutdown(self, request.timeout, request.app_signal, std::move(done));
        });
      },
      [self](msg::pool_kill) {
        preempt(self);
        return exclusive_reply(self, [self](step done) { kill(self, std::move(done)); });
      },
      [self](msg::pool_sync) {
        return exclusive_reply(self, [](step done) { done(std::nullopt); });
      },
      [self](msg::pool_hand_over) -> caf::result<void> {
        auto rp = self->make_response_promise();
        hand_over(self, [rp]() mutable { rp.deliver(caf::unit); });
        return rp;
      },
      [self](msg::process_exit& exit) {
        on_exit(self, exit.process, exit.status);
        publish(self);
      },
      [self](atom::poll, std::uint64_t id) {
        self->state.polls.tick(self, id);
        publish(self);
      },
      [self](msg::served_exit& exit) { on_served_exit(self, exit); },
      [self](atom::wake) { on_activation(self); },
      [self](atom::idle_check, std::uint64_t generation) { on_idle_check(self, generation); },
      [self](atom::periodic, std::uint64_t generation) { on_periodic(self, generation); },
      [self](atom::memory_check, std::uint64_t generation) { on_memory_check(self, generation); },
  };
}

}  // namespace nomad_iis
