// The pool actor: what happens when one of its processes ends on its own
// (nginx respawned a worker, the pool's nginx master or an application
// process died), rapid-fail protection, and periodic recycles.

#include <signal.h>

#include <algorithm>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/pool_flows.hpp"
#include "actors/timeouts.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::pool {
namespace {

/// How long a replacement for a crashed process waits for logmon.
constexpr auto repair_output_wait = std::chrono::seconds(5);

std::string pool_log(pool_actor_ptr self) {
  return iis::layout::alert_log(self->state.plan().data_dir,
                                iis::layout::pool_instance(self->state.index));
}

bool repairable(pool_actor_ptr self) {
  const auto& st = self->state;
  return st.status == iis::pool_status::started && !st.idle;
}

void give_up(pool_actor_ptr self, finished_fn finished, const std::string& what,
             const iis::failure& error) {
  emit(self, what + " and could not be restarted (" + error.message + "); stopping the pool");
  stop_pool(self, [finished](std::optional<iis::failure>) { finished(); });
}

}  // namespace

void repair_pool_master(pool_actor_ptr self, iis::process_ref old, iis::exit_status status,
                        finished_fn finished) {
  if (!repairable(self)) {
    finished();
    return;
  }
  auto& st = self->state;
  std::vector<iis::process_ref> orphans;
  for (auto& [pid, item] : st.processes) {
    if (item.kind == role::worker) {
      item.retiring = true;
      orphans.push_back(item.ref);
    }
  }
  const std::string what = "application pool " + pool_name(self) + ": nginx master " +
                           std::to_string(old.pid) + " exited (" + iis::describe(status) + ")";
  // Workers outlive a killed master and keep the old socket: end them first,
  // also those nobody tracked (it died while no plugin watched): they stay
  // in the group it led.
  pool_job<std::vector<iis::process_ref>>(
      self,
      [launcher = st.ctx.launcher, old, cwd = st.plan().data_dir] {
        return old.pid > 0 ? launcher->group_members(old, cwd) : std::vector<iis::process_ref>{};
      },
      [self, orphans, old, status, what,
       finished](job_result<std::vector<iis::process_ref>> members) mutable {
        for (const auto& member : members.value.value_or(std::vector<iis::process_ref>{})) {
          if (std::find(orphans.begin(), orphans.end(), member) == orphans.end())
            orphans.push_back(member);
        }
        kill_and_forget(self, orphans, [self, old, status, what, finished](auto) {
          write_conf(
              self, false, [self, old, status, what, finished](std::optional<iis::failure> error) {
                if (error) {
                  give_up(self, finished, what, *error);
                  return;
                }
                auto& st = self->state;
                open_outputs(
                    self, st.polls, st.ctx, self->clock().now() + repair_output_wait, true,
                    [self] { return self->state.handing_over; },
                    [self, old, status, what, finished](std::optional<iis::failure>,
                                                        outputs_ptr outputs) {
                      // Requests queue in the pool's socket meanwhile (ours, inherited).
                      open_listener(self, [self, old, status, what, finished,
                                           outputs](std::optional<iis::failure> error) {
                        if (error) {
                          give_up(self, finished, what, *error);
                          return;
                        }
                        // Only the master: the applications keep running.
                        spawn_pool(
                            self, outputs,
                            [self, old, status, what, finished](std::optional<iis::failure> error) {
                              if (error) {
                                give_up(self, finished, what, *error);
                                return;
                              }
                              auto& st = self->state;
                              auto targets = pool_targets(self);
                              targets.erase(std::remove_if(targets.begin(), targets.end(),
                                                           [&](const ready_target& t) {
                                                             return !(t.owner == st.master);
                                                           }),
                                            targets.end());
                              wait_ready(self, st.polls, st.ctx, targets,
                                         [self, old, status, what,
                                          finished](std::optional<iis::failure> error) {
                                           if (error) {
                                             give_up(self, finished, what, *error);
                                             return;
                                           }
                                           const auto master = self->state.master;
                                           adopt_workers(
                                               self, master, self->clock().now() + adopt_limit,
                                               [self, old, status, master, finished](auto) {
                                                 emit(self, "worker " + std::to_string(old.pid) +
                                                                " (nginx master) of pool " +
                                                                pool_name(self) + " exited (" +
                                                                iis::describe(status) +
                                                                "); restarted as " +
                                                                std::to_string(master.pid));
                                                 finished();
                                               });
                                         });
                            },
                            true);
                      });
                    });
              });
        });
      });
}

namespace {

void replace_pool_worker(pool_actor_ptr self, iis::process_ref old, iis::exit_status status,
                         finished_fn finished) {
  const auto master = self->state.master;
  if (!repairable(self) || !master.pid) {
    finished();
    return;
  }
  // nginx respawns its crashed worker itself; we learn the new PID and report.
  adopt_workers(self, master, self->clock().now() + adopt_limit,
                [self, old, status, finished](std::vector<iis::process_ref> adopted) {
                  std::string reason =
                      status.known ? iis::describe(status)
                                   : self->state.host().worker_exit_reason(pool_log(self), old.pid);
                  if (reason.empty()) reason = "status unknown";
                  std::string message = "worker " + std::to_string(old.pid) + " of pool " +
                                        pool_name(self) + " exited (" + reason + ")";
                  if (!adopted.empty())
                    message += "; restarted as " + std::to_string(adopted.front().pid);
                  emit(self, message);
                  finished();
                });
}

}  // namespace

void restart_app(pool_actor_ptr self, std::size_t index, iis::process_ref old,
                 iis::exit_status status, finished_fn finished) {
  auto& st = self->state;
  if (!repairable(self) || st.apps[index].process.pid) {
    finished();
    return;
  }
  const std::string what = "worker " + std::to_string(old.pid) + " of pool " + pool_name(self) +
                           " exited (" + iis::describe(status) + ")";
  const auto port = st.apps[index].runtime.port;
  // Keep the port when it is free, so the front needs no reload.
  std::int32_t new_port = port;
  try {
    if (new_port == 0 || self->state.host().check_bindable("127.0.0.1", new_port))
      new_port = self->state.host().pick_loopback_port();
  } catch (const std::exception& e) {
    give_up(self, finished, what, iis::failure_of(e, iis::errc::io_failure));
    return;
  }
  analyse_apps(self, [self, index, port, new_port, what, finished](
                         std::optional<iis::failure> error, bool) {
    if (error || !self->state.apps[index].runtime.handler) {
      give_up(self, finished, what,
              error.value_or(iis::failure{iis::errc::invalid_config,
                                          "its web.config names no process any more"}));
      return;
    }
    auto& st = self->state;
    open_outputs(
        self, st.polls, st.ctx, self->clock().now() + repair_output_wait, true,
        [self] { return self->state.handing_over; },
        [self, index, port, new_port, what, finished](std::optional<iis::failure>,
                                                      outputs_ptr outputs) {
          auto& st = self->state;
          auto plan = st.ctx.plan;
          auto runtime = st.apps[index].runtime;
          off_thread<iis::process_ref>(
              self, st.ctx.workers,
              [plan, launcher = st.ctx.launcher, host = st.ctx.host, runtime, new_port, outputs] {
                auto launch = host->app_request(*plan, runtime, new_port);
                launch.request.stdout_fd = launch.log ? launch.log.get() : outputs->out.get();
                launch.request.stderr_fd = launch.log ? launch.log.get() : outputs->err.get();
                const auto process = launcher->spawn(launch.request);
                host->record_app(*plan, runtime.app, process, new_port);
                return process;
              },
              [self, index, port, new_port, what, finished,
               epoch = st.ops.epoch()](job_result<iis::process_ref> started) {
                if (self->state.ops.epoch() != epoch) {
                  if (started.ok()) kill_all(self->state.launcher(), {*started.value});
                  return;
                }
                if (!started.ok()) {
                  give_up(self, finished, what, started.error);
                  return;
                }
                auto& st = self->state;
                const auto process = *started.value;
                st.apps[index].process = process;
                st.apps[index].runtime.port = new_port;
                track(self, process, role::app, index);
                auto report = [self, what, process, finished] {
                  emit(self, what + "; restarted as " + std::to_string(process.pid));
                  finished();
                };
                auto targets = pool_targets(self);
                targets.erase(
                    std::remove_if(targets.begin(), targets.end(),
                                   [&](const ready_target& t) { return !(t.owner == process); }),
                    targets.end());
                wait_ready(self, st.polls, st.ctx, targets,
                           [self, port, new_port, what, report,
                            finished](std::optional<iis::failure> error) {
                             if (error) {
                               give_up(self, finished, what, *error);
                               return;
                             }
                             if (port == new_port) {
                               report();
                               return;
                             }
                             reload_front(self, msg::front_change::same_answer,
                                          [self, what, report, finished](
                                              std::optional<iis::failure> error, auto) {
                                            if (error)
                                              give_up(self, finished, what, *error);
                                            else
                                              report();
                                          });
                           });
              });
        });
  });
}

void on_exit(pool_actor_ptr self, const iis::process_ref& ref, iis::exit_status status) {
  auto& st = self->state;
  auto it = st.processes.find(ref.pid);
  if (it == st.processes.end() || !(it->second.ref == ref)) return;
  const auto item = it->second;
  st.processes.erase(it);
  // Counted as a crash below, as IIS counts a w3wp the system killed.
  if (took_oom_kill(self))
    emit(self, "worker " + std::to_string(ref.pid) + " of application pool " + pool_name(self) +
                   " killed: out of memory");
  // An idle pool's exits belong to its idle stop or its start on demand.
  const bool expected = st.status != iis::pool_status::started || item.retiring || st.idle;
  operation repair;
  switch (item.kind) {
    case role::master:
      if (st.master == ref) st.master = iis::process_ref{};
      if (expected) return;
      repair = [self, ref, status](finished_fn finished) {
        repair_pool_master(self, ref, status, finished);
      };
      break;
    case role::worker:
      if (expected || st.master.pid == 0) return;
      repair = [self, ref, status](finished_fn finished) {
        replace_pool_worker(self, ref, status, finished);
      };
      break;
    case role::app: {
      auto& app = st.apps[item.app];
      const bool current = app.process == ref;
      if (current) app.process = iis::process_ref{};
      if (expected || !current) return;
      repair = [self, index = item.app, ref, status](finished_fn finished) {
        restart_app(self, index, ref, status, finished);
      };
      break;
    }
  }
  if (record_crash(self))
    run_exclusive(self, [self](finished_fn finished) { rapid_fail_stop(self, finished); });
  else
    run_exclusive(self, std::move(repair));
}

void on_served_exit(pool_actor_ptr self, const msg::served_exit& exit) {
  auto& st = self->state;
  if (!st.front_serves || st.status != iis::pool_status::started) return;
  std::string message = "worker " + std::to_string(exit.process.pid) +
                        (exit.master ? " (nginx master)" : "") + " of pool " + pool_name(self) +
                        " exited (" + exit.reason + ")";
  if (exit.replacement.pid) message += "; restarted as " + std::to_string(exit.replacement.pid);
  emit(self, message);
  if (record_crash(self))
    run_exclusive(self, [self](finished_fn finished) { rapid_fail_stop(self, finished); });
}

void rapid_fail_stop(pool_actor_ptr self, finished_fn finished) {
  auto& st = self->state;
  if (st.status != iis::pool_status::started) {
    finished();
    return;
  }
  const auto crashes = st.crashes.size();
  stop_pool(self, [self, crashes, finished](std::optional<iis::failure>) {
    const auto& pool = self->state.pool();
    emit(self, "application pool " + pool.name +
                   " stopped by rapid-fail protection: " + std::to_string(crashes) +
                   " worker crashes within " + iis::seconds_text(pool.rapid_fail_interval) +
                   " (limit " + std::to_string(pool.rapid_fail_max_crashes) + ")");
    finished();
  });
}

bool took_oom_kill(pool_actor_ptr self) {
  auto& st = self->state;
  const auto count = st.host().oom_kills(st.plan(), iis::layout::pool_instance(st.index));
  const bool rose = count > st.oom_kills;
  st.oom_kills = count;
  return rose;
}

void arm_memory_check(pool_actor_ptr self) {
  auto& st = self->state;
  if (st.pool().private_memory_limit_kb <= 0) return;
  self->delayed_send(self, timeouts::private_memory_check, atom::memory_check_v,
                     ++st.memory_generation);
}

namespace {

/// A worker above the pool's private_memory_limit, and what it holds.
std::optional<std::pair<iis::process_ref, std::uint64_t>> over_private_limit(pool_actor_ptr self) {
  auto& st = self->state;
  const auto limit = static_cast<std::uint64_t>(st.pool().private_memory_limit_kb) * 1024;
  for (const auto& [pid, item] : st.processes) {
    if (item.retiring || item.kind == role::master) continue;
    const auto bytes = st.launcher().private_bytes(item.ref);
    if (bytes && *bytes > limit) return std::make_pair(item.ref, *bytes);
  }
  return std::nullopt;
}

}  // namespace

void on_memory_check(pool_actor_ptr self, std::uint64_t generation) {
  auto& st = self->state;
  if (generation != st.memory_generation) return;
  const auto over =
      st.status == iis::pool_status::started && !st.idle ? over_private_limit(self) : std::nullopt;
  if (!over) {
    arm_memory_check(self);
    return;
  }
  run_exclusive(self, [self, over = *over](finished_fn finished) {
    if (self->state.status != iis::pool_status::started) {
      arm_memory_check(self);
      finished();
      return;
    }
    recycle_pool(self, true, [self, over, finished](std::optional<iis::failure> error) {
      const auto limit_kb = self->state.pool().private_memory_limit_kb;
      emit(self, "application pool " + pool_name(self) + " recycled (private_memory_limit " +
                     std::to_string(limit_kb) + " KB: worker " + std::to_string(over.first.pid) +
                     " held " + std::to_string(over.second / 1024) + " KB)" +
                     (error ? ": " + error->message : ""));
      arm_memory_check(self);
      finished();
    });
  });
}

void arm_periodic_restart(pool_actor_ptr self) {
  auto& st = self->state;
  const auto& period = st.pool().periodic_restart;
  if (!period || period->count() <= 0) return;
  self->delayed_send(self, *period, atom::periodic_v, ++st.periodic_generation);
}

void on_periodic(pool_actor_ptr self, std::uint64_t generation) {
  if (generation != self->state.periodic_generation) return;
  run_exclusive(self, [self, generation](finished_fn finished) {
    auto& st = self->state;
    if (generation != st.periodic_generation || st.status != iis::pool_status::started) {
      finished();
      return;
    }
    recycle_pool(self, true, [self, finished](std::optional<iis::failure> error) {
      emit(self, "application pool " + pool_name(self) + " recycled (periodic_restart " +
                     iis::seconds_text(*self->state.pool().periodic_restart) + ")" +
                     (error ? ": " + error->message : ""));
      arm_periodic_restart(self);
      finished();
    });
  });
}

}  // namespace nomad_iis::pool
