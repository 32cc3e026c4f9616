#include "actors/front_actor.hpp"

#include <signal.h>

#include <algorithm>
#include <set>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "iis/site_layout.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

constexpr auto reload_limit = std::chrono::seconds(10);
constexpr auto retire_limit = std::chrono::seconds(5);

using finished_fn = std::function<void()>;

void publish(front_actor_ptr self) {
  auto& st = self->state;
  msg::front_view view{st.master, {}};
  for (const auto& [pid, worker] : st.workers) {
    if (!worker.retiring) view.workers.push_back(worker.ref);
  }
  if (st.last_view && st.last_view->master == view.master && st.last_view->workers == view.workers)
    return;
  st.last_view = view;
  if (auto owner = caf::actor_cast<caf::actor>(st.ctx.owner)) self->send(owner, std::move(view));
}

void run_exclusive(front_actor_ptr self, std::function<void(finished_fn)> op) {
  self->state.ops.run(std::move(op));
}

std::string front_log(front_actor_ptr self) {
  return iis::layout::alert_log(self->state.ctx.plan->data_dir, iis::layout::front_instance);
}

void track_worker(front_actor_ptr self, const iis::process_ref& ref) {
  auto& st = self->state;
  if (st.workers.count(ref.pid) && st.workers[ref.pid].ref == ref) return;
  st.workers[ref.pid] = front_actor_state::worker{ref, false};
  watch_process(self, *st.ctx.launcher, ref);
}

std::vector<iis::process_ref> front_processes(front_actor_ptr self) {
  std::vector<iis::process_ref> out;
  if (self->state.master.pid) out.push_back(self->state.master);
  for (const auto& [pid, worker] : self->state.workers) out.push_back(worker.ref);
  return out;
}

/// Learns the front's new workers (at least one that is not retiring).
void adopt(front_actor_ptr self, poller::time_point deadline,
           std::function<void(std::vector<iis::process_ref>)> next) {
  auto adopted = std::make_shared<std::vector<iis::process_ref>>();
  self->state.polls.start(
      self,
      [self, adopted] {
        auto& st = self->state;
        std::size_t current = 0;
        for (const auto& child : st.ctx.launcher->children(st.master)) {
          auto it = st.workers.find(child.pid);
          if (it == st.workers.end()) {
            if (st.ctx.launcher->shutting_down(child)) continue;
            track_worker(self, child);
            adopted->push_back(child);
            ++current;
          } else if (it->second.ref == child && !it->second.retiring) {
            ++current;
          }
        }
        return current >= 1;
      },
      deadline, adopt_interval, [adopted, next = std::move(next)](bool) { next(*adopted); });
}

/// Writes the config on a blocking worker.
void write_conf(front_actor_ptr self, std::function<void(std::optional<iis::failure>)> next) {
  auto plan = self->state.ctx.plan;
  off_thread<caf::unit_t>(
      self, self->state.ctx.workers,
      [plan, host = self->state.ctx.host, routes = self->state.routes, log = front_log(self)] {
        host->write_front_conf(*plan, routes);
        host->trim_log(log);
      },
      [next](job_result<caf::unit_t> written) {
        if (written.ok())
          next(std::nullopt);
        else
          next(iis::failure{written.error.code, "front configuration: " + written.error.message});
      });
}

std::vector<ready_target> binding_targets(front_actor_ptr self, poller::time_point deadline,
                                          iis::duration limit) {
  const auto& plan = *self->state.ctx.plan;
  std::vector<ready_target> targets;
  std::set<std::pair<std::string, std::int32_t>> listens;
  for (const auto& binding : plan.bindings) {
    if (!listens.insert({binding.ip, binding.port}).second) continue;
    ready_target target;
    target.what = "binding " + iis::address_text(binding.ip, binding.port);
    target.ip = binding.ip;
    target.port = binding.port;
    target.owner = self->state.master;
    target.owner_log = front_log(self);
    target.deadline = deadline;
    target.limit_text = iis::seconds_text(limit);
    targets.push_back(target);
  }
  return targets;
}

struct spawned_front {
  iis::process_ref master;
  std::shared_ptr<unique_fd> reader;  ///< the FIFO's reader, held until the front runs
};

void start(front_actor_ptr self, caf::typed_response_promise<msg::front_view> rp,
           finished_fn finished) {
  auto& st = self->state;
  iis::duration limit = std::chrono::seconds(1);
  for (const auto& pool : st.ctx.plan->pools) limit = std::max(limit, pool.start_time_limit);
  const auto deadline = self->clock().now() + limit;
  auto fail = [self, rp, finished](const iis::failure& error) mutable {
    rp.deliver(to_error(error));
    finished();
  };
  write_conf(self, [self, rp, finished, fail, deadline,
                    limit](std::optional<iis::failure> error) mutable {
    if (error) {
      fail(*error);
      return;
    }
    auto& st = self->state;
    open_outputs(
        self, st.polls, st.ctx, deadline, false, [] { return false; },
        [self, rp, finished, fail, deadline, limit](std::optional<iis::failure> error,
                                                    outputs_ptr outputs) mutable {
          if (error) {
            fail(*error);
            return;
          }
          auto& st = self->state;
          auto plan = st.ctx.plan;
          off_thread<spawned_front>(
              self, st.ctx.workers,
              [plan, launcher = st.ctx.launcher, host = st.ctx.host, outputs] {
                auto request = host->nginx_request(*plan, iis::layout::front_instance, -1);
                request.stdout_fd = outputs->out.get();
                request.stderr_fd = outputs->err.get();
                spawned_front out;
                // Held until the front runs: its open of /dev/stdout must not block.
                out.reader = std::make_shared<unique_fd>(host->hold_fifo_reader(plan->stdout_path));
                try {
                  out.master = launcher->spawn(request);
                } catch (const std::exception& e) {
                  throw iis::backend_error(iis::code_of(e, iis::errc::process_failed),
                                           std::string("nginx (front): ") + e.what());
                }
                return out;
              },
              [self, rp, finished, fail, deadline,
               limit](job_result<spawned_front> spawned) mutable {
                if (!spawned.ok()) {
                  fail(spawned.error);
                  return;
                }
                auto& st = self->state;
                auto reader = spawned.value->reader;
                st.master = spawned.value->master;
                watch_process(self, *st.ctx.launcher, st.master);
                // Its workers from the moment nginx forks them: should the
                // start fail later (the master died), the kill finds them.
                adopt(self, deadline, [](auto) {});
                wait_ready(
                    self, st.polls, st.ctx, binding_targets(self, deadline, limit),
                    [self, rp, finished, fail, reader](std::optional<iis::failure> error) mutable {
                      if (error) {
                        fail(*error);
                        return;
                      }
                      adopt(self, self->clock().now() + adopt_limit,
                            [self, rp, finished, reader](auto) mutable {
                              reader->reset();
                              self->state.started = true;
                              publish(self);
                              rp.deliver(*self->state.last_view);
                              finished();
                            });
                    });
              });
        });
  });
}

void reload(front_actor_ptr self, caf::typed_response_promise<msg::front_reloaded> rp,
            finished_fn finished) {
  auto& st = self->state;
  if (!st.master.pid) {
    rp.deliver(msg::front_reloaded{});
    finished();
    return;
  }
  write_conf(self, [self, rp, finished](std::optional<iis::failure> error) mutable {
    if (error) {
      rp.deliver(to_error(*error));
      finished();
      return;
    }
    auto& st = self->state;
    std::vector<iis::process_ref> old_workers;
    for (auto& [pid, worker] : st.workers) {
      if (worker.retiring) continue;
      worker.retiring = true;
      old_workers.push_back(worker.ref);
    }
    // nginx reopens /dev/stdout (the task's stdout FIFO) while it reloads;
    // with no reader that open would block its master until logmon came back.
    auto reader =
        std::make_shared<unique_fd>(st.ctx.host->hold_fifo_reader(st.ctx.plan->stdout_path));
    st.ctx.launcher->signal(st.master, SIGHUP);
    adopt(
        self, self->clock().now() + reload_limit,
        [self, rp, finished, old_workers, reader](std::vector<iis::process_ref> adopted) mutable {
          reader->reset();  // new workers run: the master opened its logs
          auto& st = self->state;
          if (adopted.empty()) {
            for (const auto& worker : old_workers) {
              auto it = st.workers.find(worker.pid);
              if (it != st.workers.end() && it->second.ref == worker) it->second.retiring = false;
            }
            const auto why = st.ctx.host->last_emergency(front_log(self));
            rp.deliver(to_error({iis::errc::process_failed, "the front nginx did not reload" +
                                                                (why.empty() ? "" : ": " + why)}));
            finished();
            return;
          }
          wait_retired(self, st.polls, *st.ctx.launcher, old_workers,
                       self->clock().now() + retire_limit, [rp, finished, old_workers]() mutable {
                         rp.deliver(msg::front_reloaded{old_workers});
                         finished();
                       });
        });
  });
}

void forget_all(front_actor_ptr self) {
  self->state.master = iis::process_ref{};
  self->state.workers.clear();
}

void on_exit(front_actor_ptr self, const iis::process_ref& ref, iis::exit_status status) {
  auto& st = self->state;
  if (st.master == ref) {
    st.master = iis::process_ref{};
    if (!st.expected_exit && st.started) {
      st.expected_exit = true;
      if (auto owner = caf::actor_cast<caf::actor>(st.ctx.owner))
        self->send(owner, msg::front_died{status});
    }
    return;
  }
  auto it = st.workers.find(ref.pid);
  if (it == st.workers.end() || !(it->second.ref == ref)) return;
  const bool retiring = it->second.retiring;
  st.workers.erase(it);
  if (retiring || st.expected_exit || !st.master.pid) return;
  run_exclusive(self, [self, ref](finished_fn finished) {
    if (!self->state.master.pid) {
      finished();
      return;
    }
    adopt(self, self->clock().now() + adopt_limit,
          [self, ref, finished](std::vector<iis::process_ref> adopted) {
            std::string reason = self->state.ctx.host->worker_exit_reason(front_log(self), ref.pid);
            if (reason.empty()) reason = "status unknown";
            std::string message =
                "front worker " + std::to_string(ref.pid) + " exited (" + reason + ")";
            if (!adopted.empty()) message += "; restarted as " + std::to_string(adopted[0].pid);
            emit(self, self->state.ctx, message);
            finished();
          });
  });
}

}  // namespace

caf::behavior front_actor(front_actor_ptr self, site_context ctx,
                          std::optional<iis::process_ref> recovered) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.ops.after_each([self] { publish(self); });
  st.routes.resize(st.ctx.plan->pools.size());
  for (std::size_t p = 0; p < st.routes.size(); ++p) st.routes[p].pool = p;
  if (recovered) {
    st.master = *recovered;
    st.started = true;
    watch_process(self, *st.ctx.launcher, st.master);
    for (const auto& worker : st.ctx.launcher->children(st.master)) track_worker(self, worker);
  }
  publish(self);
  return {
      [self](msg::front_start& m) -> caf::result<msg::front_view> {
        auto rp = self->make_response_promise<msg::front_view>();
        for (auto& routes : m.routes) {
          if (routes.pool < self->state.routes.size()) self->state.routes[routes.pool] = routes;
        }
        self->state.expected_exit = false;
        run_exclusive(self,
                      [self, rp](finished_fn finished) mutable { start(self, rp, finished); });
        return rp;
      },
      [self](msg::front_reload& m) -> caf::result<msg::front_reloaded> {
        auto rp = self->make_response_promise<msg::front_reloaded>();
        if (m.routes.pool < self->state.routes.size())
          self->state.routes[m.routes.pool] = std::move(m.routes);
        run_exclusive(self,
                      [self, rp](finished_fn finished) mutable { reload(self, rp, finished); });
        return rp;
      },
      [self](msg::front_stop& m) -> caf::result<msg::front_left> {
        auto rp = self->make_response_promise<msg::front_left>();
        auto& st = self->state;
        st.expected_exit = true;
        if (st.master.pid) st.ctx.launcher->signal(st.master, SIGQUIT);
        wait_gone(self, st.polls, *st.ctx.launcher, front_processes(self),
                  self->clock().now() + m.timeout, [self, rp](auto left) mutable {
                    // What did not drain stays known: the front_kill that
                    // follows must find it.
                    if (left.empty()) forget_all(self);
                    publish(self);
                    rp.deliver(msg::front_left{std::move(left)});
                  });
        return rp;
      },
      [self](msg::front_kill) -> caf::result<msg::front_left> {
        auto rp = self->make_response_promise<msg::front_left>();
        auto& st = self->state;
        st.expected_exit = true;
        const auto killed = kill_all(*st.ctx.launcher, front_processes(self));
        wait_gone(self, st.polls, *st.ctx.launcher, killed, self->clock().now() + kill_grace,
                  [self, rp](auto left) mutable {
                    forget_all(self);
                    publish(self);
                    rp.deliver(msg::front_left{std::move(left)});
                  });
        return rp;
      },
      [self](msg::process_exit& exit) {
        on_exit(self, exit.process, exit.status);
        publish(self);
      },
      [self](atom::poll, std::uint64_t id) { self->state.polls.tick(self, id); },
  };
}

}  // namespace nomad_iis
