// The pool actor: preparing and launching with its site, start, stop,
// recycle (overlapped or not), the site's stop and kill, and the front's
// routes to the pool's applications.

#include <signal.h>

#include <algorithm>
#include <tuple>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/pool_flows.hpp"
#include "iis/site_layout.hpp"
#include "messages/error.hpp"

namespace nomad_iis::pool {
namespace {

constexpr auto retire_limit = std::chrono::seconds(5);

/// Picks a fresh loopback port for every application process of the pool.
void pick_ports(pool_actor_ptr self) {
  for (auto& app : self->state.apps) {
    if (app.runtime.handler) app.runtime.port = self->state.host().pick_loopback_port();
  }
}

/// An AlwaysRunning pool whose files the front may serve starts that way.
bool serves_at_start(pool_actor_ptr self) {
  return can_front_serve(self) &&
         self->state.pool().start_mode == config::start_mode::always_running;
}

/// Writes the pool's nginx config and opens its socket.
void write_conf_and_listen(pool_actor_ptr self, step next) {
  if (!has_static(self)) {
    next(std::nullopt);
    return;
  }
  write_conf(self, false, [self, next](std::optional<iis::failure> error) {
    if (error) {
      next(error);
      return;
    }
    open_listener(self, next);
  });
}

/// Undoes a failed start: kills what runs, closes the sockets, Stopped.
void fail_start(pool_actor_ptr self, step done, const iis::failure& error) {
  kill_and_forget(self, pool_processes(self), [self, done, error](std::vector<iis::process_ref>) {
    close_activation(self);
    mark_stopped(self);
    done(pool_failure(self, error));
  });
}

/// The pool's workers run and accept: learn the nginx workers, Started.
void finish_start(pool_actor_ptr self, step done) {
  auto started = [self, done](std::vector<iis::process_ref>) {
    auto& st = self->state;
    st.status = iis::pool_status::started;
    st.last_activity = self->clock().now();
    arm_periodic_restart(self);
    arm_idle_check(self);
    done(std::nullopt);
  };
  if (self->state.master.pid)
    adopt_workers(self, self->state.master, self->clock().now() + adopt_limit, started);
  else
    started({});
}

/// Started by the front's next generation serving the files.
void start_in_front(pool_actor_ptr self, step done, std::function<void(iis::failure)> fail) {
  hand_files_to_front(self, msg::front_change::new_answer,
                      [self, done, fail](std::optional<iis::failure> error, auto) {
                        if (error) return fail(*error);
                        finish_start(self, done);
                      });
}

/// Spawns the pool's processes with the task's outputs and waits until they accept.
void spawn_and_wait(pool_actor_ptr self, step next) {
  const auto limit = self->state.pool().start_time_limit;
  open_outputs(
      self, self->state.polls, self->state.ctx, self->clock().now() + limit, false,
      [] { return false; },
      [self, next](std::optional<iis::failure> error, outputs_ptr outputs) {
        if (error) {
          next(error);
          return;
        }
        spawn_pool(self, outputs, [self, next](std::optional<iis::failure> error) {
          if (error) {
            next(error);
            return;
          }
          wait_ready(self, self->state.polls, self->state.ctx, pool_targets(self), next);
        });
      });
}

}  // namespace

std::vector<iis::app_runtime> app_runtimes(pool_actor_ptr self) {
  std::vector<iis::app_runtime> runtimes;
  for (const auto& app : self->state.apps) runtimes.push_back(app.runtime);
  return runtimes;
}

iis::pool_routes routes_of(pool_actor_ptr self) {
  const auto& st = self->state;
  iis::pool_routes routes;
  routes.pool = st.index;
  routes.down = st.status == iis::pool_status::stopped || st.status == iis::pool_status::stopping;
  routes.front_serves = st.front_serves;
  routes.apps = app_runtimes(self);
  return routes;
}

void write_conf(pool_actor_ptr self, bool trim_alert_log, step next) {
  if (!has_static(self)) {
    next(std::nullopt);
    return;
  }
  const auto& st = self->state;
  const auto log = trim_alert_log ? iis::layout::alert_log(st.plan().data_dir,
                                                           iis::layout::pool_instance(st.index))
                                  : std::string();
  pool_job<caf::unit_t>(
      self,
      [plan = st.ctx.plan, host = st.ctx.host, index = st.index, apps = app_runtimes(self), log] {
        host->write_pool_conf(*plan, index, apps);
        if (!log.empty()) host->trim_log(log);
      },
      [next](job_result<caf::unit_t> written) {
        if (written.ok())
          next(std::nullopt);
        else
          next(written.error);
      });
}

void analyse_apps(pool_actor_ptr self,
                  std::function<void(std::optional<iis::failure>, bool)> next) {
  auto plan = self->state.ctx.plan;
  pool_job<std::vector<iis::app_runtime>>(
      self,
      [plan, host = self->state.ctx.host, index = self->state.index] {
        return host->read_pool_apps(*plan, index);
      },
      [self, next](job_result<std::vector<iis::app_runtime>> read) {
        if (!read.ok()) {
          next(read.error, false);
          return;
        }
        bool changed = false;
        auto& apps = self->state.apps;
        for (std::size_t i = 0; i < apps.size() && i < read.value->size(); ++i) {
          auto& fresh = (*read.value)[i];
          changed = changed || apps[i].runtime.handler.has_value() != fresh.handler.has_value();
          fresh.port = apps[i].runtime.port;
          apps[i].runtime = std::move(fresh);
        }
        self->state.front_stale = self->state.front_stale || changed;
        next(std::nullopt, changed);
      });
}

void reload_front(
    pool_actor_ptr self, msg::front_change change,
    std::function<void(std::optional<iis::failure>, std::vector<iis::process_ref>)> next) {
  self->state.front_stale = false;
  self->request(self->state.front, caf::infinite, msg::front_reload{routes_of(self), change})
      .then(
          [self, next, epoch = self->state.ops.epoch()](msg::front_reloaded& reloaded) {
            if (self->state.ops.epoch() != epoch) return;
            auto& st = self->state;
            // Serving our files, the front's new workers are ours.
            if (st.front_serves && !st.taking_over) {
              st.counts.worker_starts += reloaded.new_workers.size();
              publish(self);
            }
            next(std::nullopt, std::move(reloaded.old_workers));
          },
          [self, next, epoch = self->state.ops.epoch()](caf::error& error) {
            if (self->state.ops.epoch() == epoch) next(failure_of(error), {});
          });
}

void hand_files_to_front(
    pool_actor_ptr self, msg::front_change change,
    std::function<void(std::optional<iis::failure>, std::vector<iis::process_ref>)> next) {
  auto& st = self->state;
  st.front_serves = true;
  st.taking_over = true;
  reload_front(
      self, change,
      [self, next](std::optional<iis::failure> error, std::vector<iis::process_ref> old_front) {
        auto& st = self->state;
        st.taking_over = false;
        if (error)
          st.front_serves = false;
        else
          st.host().persist_front_serves(st.plan(), st.index, true);
        next(error, std::move(old_front));
      });
}

void spawn_pool(pool_actor_ptr self, outputs_ptr outputs, step next, bool master_only) {
  auto& st = self->state;
  struct spawn_order {
    std::optional<iis::spawn_request> master;
    std::vector<std::pair<std::size_t, std::int32_t>> apps;  ///< index in st.apps, port
  };
  spawn_order order;
  if (has_static(self)) {
    const auto instance = iis::layout::pool_instance(st.index);
    order.master = st.host().nginx_request(st.plan(), instance, st.listener.get());
  }
  for (std::size_t i = 0; i < st.apps.size() && !master_only; ++i) {
    auto& app = st.apps[i];
    if (!app.runtime.handler) continue;
    app.port_hold.reset();  // the app binds the port itself
    order.apps.emplace_back(i, app.runtime.port);
  }
  struct spawned {
    iis::process_ref master;
    std::vector<std::pair<std::size_t, iis::process_ref>> apps;
    std::optional<iis::failure> error;  ///< what failed after the processes above started
  };
  auto runtimes = app_runtimes(self);
  auto plan = st.ctx.plan;
  auto launcher = st.ctx.launcher;
  off_thread<spawned>(
      self, st.ctx.workers,
      [plan, launcher, host = st.ctx.host, order, outputs, runtimes, index = st.index] {
        spawned out;
        const int out_fd = outputs ? outputs->out.get() : -1;
        const int err_fd = outputs ? outputs->err.get() : -1;
        try {
          if (order.master) {
            const auto instance = iis::layout::pool_instance(index);
            host->trim_log(iis::layout::alert_log(plan->data_dir, instance));
            auto request = *order.master;
            request.stdout_fd = out_fd;
            request.stderr_fd = err_fd;
            try {
              out.master = launcher->spawn(request);
            } catch (const std::exception& e) {
              throw iis::backend_error(iis::code_of(e, iis::errc::process_failed),
                                       "nginx (" + instance + "): " + e.what());
            }
          }
          for (const auto& [i, port] : order.apps) {
            const auto& runtime = runtimes[i];
            auto launch = host->app_request(*plan, runtime, port);
            launch.request.stdout_fd = launch.log ? launch.log.get() : out_fd;
            launch.request.stderr_fd = launch.log ? launch.log.get() : err_fd;
            iis::process_ref process;
            try {
              process = launcher->spawn(launch.request);
            } catch (const std::exception& e) {
              throw iis::backend_error(
                  iis::code_of(e, iis::errc::process_failed),
                  "application " + plan->applications[runtime.app].url_path + ": " + e.what());
            }
            host->record_app(*plan, runtime.app, process, port);
            out.apps.emplace_back(i, process);
          }
        } catch (const std::exception& e) {
          out.error = iis::failure_of(e, iis::errc::process_failed);
        }
        return out;
      },
      [self, next, epoch = st.ops.epoch()](job_result<spawned> result) {
        auto& st = self->state;
        if (!result.ok()) {
          if (st.ops.epoch() == epoch) next(result.error);
          return;
        }
        if (st.ops.epoch() != epoch) {
          // A kill or stop preempted the start: what it spawned goes too.
          std::vector<iis::process_ref> started;
          if (result.value->master.pid) started.push_back(result.value->master);
          for (const auto& [i, process] : result.value->apps) started.push_back(process);
          kill_all(st.launcher(), started);
          return;
        }
        // Track what started even when something after it failed: the
        // caller's clean-up kills it.
        if (result.value->master.pid) {
          st.master = result.value->master;
          track(self, st.master, role::master);
          // Its workers from the moment nginx forks them: should the start
          // fail later (the master died), the kill finds them.
          adopt_workers(self, st.master, self->clock().now() + adopt_limit, [](auto) {});
        }
        for (const auto& [i, process] : result.value->apps) {
          st.apps[i].process = process;
          track(self, process, role::app, i);
        }
        next(result.value->error);
      });
}

std::vector<ready_target> pool_targets(pool_actor_ptr self) {
  const auto& st = self->state;
  std::vector<ready_target> targets;
  const auto now = self->clock().now();
  const auto& pool = st.pool();
  if (st.master.pid) {
    ready_target target;
    target.what = "application pool " + pool.name + " (nginx)";
    target.nginx_workers = true;
    target.owner = st.master;
    target.owner_log =
        iis::layout::alert_log(st.plan().data_dir, iis::layout::pool_instance(st.index));
    target.deadline = now + pool.start_time_limit;
    target.limit_text = iis::seconds_text(pool.start_time_limit);
    targets.push_back(target);
  }
  for (const auto& app : st.apps) {
    if (!app.runtime.handler || !app.process.pid) continue;
    ready_target target;
    target.what = "application " + st.plan().applications[app.runtime.app].url_path + " (" +
                  app.runtime.handler->element_name() + " process " +
                  std::to_string(app.process.pid) + " on port " + std::to_string(app.runtime.port) +
                  ")";
    target.ip = "127.0.0.1";
    target.port = app.runtime.port;
    target.owner = app.process;
    const auto limit = app.runtime.handler->startup_time_limit.value_or(pool.start_time_limit);
    target.deadline = now + limit;
    target.limit_text = iis::seconds_text(limit);
    targets.push_back(target);
  }
  return targets;
}

void adopt_workers(pool_actor_ptr self, iis::process_ref master, poller::time_point deadline,
                   std::function<void(std::vector<iis::process_ref>)> next) {
  auto adopted = std::make_shared<std::vector<iis::process_ref>>();
  self->state.polls.start(
      self,
      [self, master, adopted] {
        auto& st = self->state;
        std::vector<iis::process_ref> fresh, known;
        std::size_t current = 0;
        for (const auto& child : st.launcher().children(master)) {
          auto it = st.processes.find(child.pid);
          if (it == st.processes.end()) {
            // An old generation worker we never tracked: not one of the new ones.
            if (st.launcher().shutting_down(child)) continue;
            fresh.push_back(child);
            ++current;
          } else if (it->second.ref == child && !it->second.retiring) {
            // Already tracked by another wait (a start's, a crash's): one of
            // the new workers all the same.
            known.push_back(child);
            ++current;
          }
        }
        for (const auto& child : fresh) {
          track(self, child, role::worker);
          adopted->push_back(child);
        }
        if (current >= 1) adopted->insert(adopted->end(), known.begin(), known.end());
        return current >= 1;
      },
      deadline, adopt_interval, [adopted, next = std::move(next)](bool) { next(*adopted); });
}

void prepare(pool_actor_ptr self, std::function<void(std::optional<iis::failure>)> done) {
  analyse_apps(self, [self, done](std::optional<iis::failure> error, bool) {
    if (error) {
      done(error);
      return;
    }
    try {
      pick_ports(self);
    } catch (const std::exception& e) {
      done(iis::failure_of(e, iis::errc::io_failure));
      return;
    }
    auto& st = self->state;
    st.status = iis::pool_status::starting;
    st.front_stale = false;
    if (serves_at_start(self)) {
      // The front's first generation serves the files: nothing of our own runs.
      st.front_serves = true;
      st.host().persist_front_serves(st.plan(), st.index, true);
      done(std::nullopt);
      return;
    }
    write_conf_and_listen(self, done);
  });
}

void launch(pool_actor_ptr self, step done) {
  auto& st = self->state;
  if (st.front_serves) {
    st.idle = false;
    finish_start(self, done);
    return;
  }
  if (st.pool().start_mode == config::start_mode::on_demand) {
    // OnDemand: the first request starts the worker (IIS's startMode).
    st.status = iis::pool_status::started;
    st.idle = true;
    st.last_activity = self->clock().now();
    arm_activation(self, [self, done](std::optional<iis::failure> error) {
      arm_periodic_restart(self);
      done(error);
    });
    return;
  }
  spawn_and_wait(self, [self, done](std::optional<iis::failure> error) {
    if (error) {
      done(error);  // the task actor kills the site
      return;
    }
    self->state.idle = false;
    finish_start(self, done);
  });
}

void start_pool(pool_actor_ptr self, step done) {
  auto& st = self->state;
  if (st.status == iis::pool_status::started || st.status == iis::pool_status::starting) {
    done(std::nullopt);
    return;
  }
  st.status = iis::pool_status::starting;
  st.host().persist_pool_stopped(st.plan(), st.index, false);
  st.idle = false;
  st.waking = false;
  st.crashes.clear();  // a manual start resets rapid-fail protection
  auto fail = [self, done](const iis::failure& error) { fail_start(self, done, error); };
  analyse_apps(self, [self, done, fail](std::optional<iis::failure> error, bool) {
    if (error) {
      fail(*error);
      return;
    }
    try {
      pick_ports(self);
    } catch (const std::exception& e) {
      fail(iis::failure_of(e, iis::errc::io_failure));
      return;
    }
    if (serves_at_start(self)) {
      start_in_front(self, done, fail);
      return;
    }
    write_conf_and_listen(self, [self, done, fail](std::optional<iis::failure> error) {
      if (error) {
        fail(*error);
        return;
      }
      auto& st = self->state;
      if (st.pool().start_mode == config::start_mode::on_demand) {
        // IIS starts the pool, not its worker: the first request does that.
        st.status = iis::pool_status::started;
        st.idle = true;
        arm_activation(self, [self, done, fail](std::optional<iis::failure> error) {
          if (error) {
            fail(*error);
            return;
          }
          arm_periodic_restart(self);
          if (!has_apps(self) && !self->state.front_stale) {
            done(std::nullopt);
            return;
          }
          // The front routes the applications to their ports again.
          reload_front(self, msg::front_change::new_answer,
                       [done, fail](std::optional<iis::failure> error, auto) {
                         if (error)
                           fail(*error);
                         else
                           done(std::nullopt);
                       });
        });
        return;
      }
      spawn_and_wait(self, [self, done, fail](std::optional<iis::failure> error) {
        if (error) {
          fail(*error);
          return;
        }
        if (!has_apps(self) && !self->state.front_stale) {
          finish_start(self, done);
          return;
        }
        // The front learns the application processes' new ports.
        reload_front(self, msg::front_change::new_answer,
                     [self, done, fail](std::optional<iis::failure> error, auto) {
                       if (error)
                         fail(*error);
                       else
                         finish_start(self, done);
                     });
      });
    });
  });
}

void stop_pool(pool_actor_ptr self, step done) {
  auto& st = self->state;
  if (st.status == iis::pool_status::stopped) {
    done(std::nullopt);
    return;
  }
  st.status = iis::pool_status::stopping;
  st.host().persist_pool_stopped(st.plan(), st.index, true);
  const bool front_served = st.front_serves;
  if (front_served) {
    st.front_serves = false;
    st.host().persist_front_serves(st.plan(), st.index, false);
  }
  ++st.periodic_generation;
  ++st.idle_generation;
  disarm_activation(self);
  auto proceed = [self, done] {
    drain(self, self->state.pool().shutdown_time_limit, SIGTERM,
          [self, done](std::vector<iis::process_ref> survivors) {
            // Requests still queued for the pool get their 503/444 now.
            close_activation(self);
            mark_stopped(self);
            if (survivors.empty())
              done(std::nullopt);
            else
              done(pool_failure(self, {iis::errc::process_failed,
                                       "process " + std::to_string(survivors.front().pid) +
                                           " survived SIGKILL"}));
          });
  };
  if (has_apps(self) || front_served) {
    // Application ports are plain TCP ports that someone else may take once
    // the process is gone: the front stops proxying to them first. A front
    // that served the files answers 503/444 from its next generation on.
    reload_front(self, msg::front_change::new_answer,
                 [proceed](std::optional<iis::failure>, auto) { proceed(); });
  } else {
    proceed();  // the front answers 503/444 by itself once the socket is gone
  }
}

namespace {

void restart(pool_actor_ptr self, step done) {
  stop_pool(self, [self, done](std::optional<iis::failure> error) {
    if (error) {
      done(error);
      return;
    }
    start_pool(self, done);
  });
}

/// Overlapped, step 2: a new process for each application on a new port,
/// the front switches, the old ones drain.
/// The front did not take the new processes: it still routes to the old
/// ones, which stay (with their records); the new ones go.
void keep_old_apps(pool_actor_ptr self, const std::vector<std::size_t>& handlers,
                   const std::vector<iis::process_ref>& started,
                   const std::vector<iis::app_runtime>& old,
                   const std::vector<iis::process_ref>& olds, const iis::failure& error,
                   step done) {
  auto& st = self->state;
  std::vector<std::tuple<std::size_t, iis::process_ref, std::int32_t>> records;
  for (std::size_t k = 0; k < handlers.size(); ++k) {
    auto& app = st.apps[handlers[k]];
    app.process = olds[k];
    app.runtime.port = old[k].port;
    if (olds[k].pid) records.emplace_back(app.runtime.app, olds[k], old[k].port);
  }
  set_retiring(self, olds, false);
  kill_all(st.launcher(), started);
  forget(self, started);
  // The front kept the routes of the change that failed: the old ones again.
  self->send(st.front, msg::front_routes{routes_of(self)});
  pool_job<caf::unit_t>(
      self,
      [plan = st.ctx.plan, host = st.ctx.host, records] {
        for (const auto& [app, process, port] : records)
          host->record_app(*plan, app, process, port);
      },
      [self, error, done](job_result<caf::unit_t>) { done(recycle_failure(self, error)); });
}

void recycle_apps(pool_actor_ptr self, step done) {
  auto& st = self->state;
  std::vector<std::size_t> handlers;
  for (std::size_t i = 0; i < st.apps.size(); ++i) {
    if (st.apps[i].runtime.handler) handlers.push_back(i);
  }
  if (handlers.empty()) {
    done(std::nullopt);
    return;
  }
  struct fresh {
    std::size_t app;
    std::int32_t port;
    iis::process_ref process;
  };
  auto old = std::make_shared<std::vector<iis::app_runtime>>();
  auto olds = std::make_shared<std::vector<iis::process_ref>>();
  for (auto i : handlers) {
    old->push_back(st.apps[i].runtime);
    olds->push_back(st.apps[i].process);
  }
  open_outputs(
      self, st.polls, st.ctx, self->clock().now() + st.pool().start_time_limit, false,
      [] { return false; },
      [self, handlers, old, olds, done](std::optional<iis::failure> error, outputs_ptr outputs) {
        if (error) {
          done(pool_failure(self, *error));
          return;
        }
        auto& st = self->state;
        std::vector<std::int32_t> ports;
        try {
          for (std::size_t k = 0; k < handlers.size(); ++k)
            ports.push_back(st.host().pick_loopback_port());
        } catch (const std::exception& e) {
          done(recycle_failure(self, iis::failure_of(e, iis::errc::io_failure)));
          return;
        }
        auto plan = st.ctx.plan;
        auto launcher = st.ctx.launcher;
        std::vector<iis::app_runtime> runtimes = *old;
        off_thread<std::vector<iis::process_ref>>(
            self, st.ctx.workers,
            [plan, launcher, host = st.ctx.host, runtimes, ports, outputs] {
              std::vector<iis::process_ref> started;
              for (std::size_t k = 0; k < runtimes.size(); ++k) {
                auto launch = host->app_request(*plan, runtimes[k], ports[k]);
                launch.request.stdout_fd = launch.log ? launch.log.get() : outputs->out.get();
                launch.request.stderr_fd = launch.log ? launch.log.get() : outputs->err.get();
                try {
                  started.push_back(launcher->spawn(launch.request));
                } catch (const std::exception& e) {
                  for (const auto& p : started) launcher->signal(p, SIGKILL);
                  throw iis::backend_error(iis::code_of(e, iis::errc::process_failed),
                                           "application " +
                                               plan->applications[runtimes[k].app].url_path + ": " +
                                               e.what());
                }
                host->record_app(*plan, runtimes[k].app, started.back(), ports[k]);
              }
              return started;
            },
            [self, handlers, ports, old, olds, done,
             epoch = st.ops.epoch()](job_result<std::vector<iis::process_ref>> spawned) {
              if (self->state.ops.epoch() != epoch) {
                if (spawned.ok()) kill_all(self->state.launcher(), *spawned.value);
                return;
              }
              if (!spawned.ok()) {
                done(recycle_failure(self, spawned.error));
                return;
              }
              auto& st = self->state;
              const auto started = *spawned.value;
              std::vector<ready_target> targets;
              for (std::size_t k = 0; k < handlers.size(); ++k) {
                auto& app = st.apps[handlers[k]];
                // Not current yet: its exit during start is a failed recycle, not a crash.
                track(self, started[k], role::app, handlers[k]);
                set_retiring(self, {started[k]}, true);
                ready_target target;
                target.what = "application " + st.plan().applications[app.runtime.app].url_path +
                              " (new process " + std::to_string(started[k].pid) + ")";
                target.ip = "127.0.0.1";
                target.port = ports[k];
                target.owner = started[k];
                const auto limit =
                    app.runtime.handler->startup_time_limit.value_or(st.pool().start_time_limit);
                target.deadline = self->clock().now() + limit;
                target.limit_text = iis::seconds_text(limit);
                targets.push_back(target);
              }
              wait_ready(
                  self, st.polls, st.ctx, targets,
                  [self, handlers, ports, started, old, olds,
                   done](std::optional<iis::failure> error) {
                    auto& st = self->state;
                    if (error) {
                      kill_all(st.launcher(), started);
                      forget(self, started);
                      done(recycle_failure(self, *error));
                      return;
                    }
                    std::vector<iis::process_ref> old_apps;
                    for (std::size_t k = 0; k < handlers.size(); ++k) {
                      auto& app = st.apps[handlers[k]];
                      if (app.process.pid) old_apps.push_back(app.process);
                      app.process = started[k];
                      app.runtime.port = ports[k];
                    }
                    set_retiring(self, old_apps, true);
                    set_retiring(self, started, false);
                    const auto limit = st.pool().shutdown_time_limit;
                    reload_front(
                        self, msg::front_change::same_answer,
                        [self, handlers, started, old, olds, old_apps, limit, done](
                            std::optional<iis::failure> error,
                            std::vector<iis::process_ref> old_front) {
                          if (error) {
                            keep_old_apps(self, handlers, started, *old, *olds, *error, done);
                            return;
                          }
                          // Old front workers may still proxy to the old processes:
                          // let them drain first, then stop the old processes.
                          auto& st = self->state;
                          wait_gone(self, st.polls, st.launcher(), old_front,
                                    self->clock().now() + limit, [self, old_apps, limit](auto) {
                                      auto& st = self->state;
                                      for (const auto& app : old_apps)
                                        st.launcher().signal(app, SIGTERM);
                                      wait_gone(self, st.polls, st.launcher(), old_apps,
                                                self->clock().now() + limit, [self](auto left) {
                                                  kill_all(self->state.launcher(), left);
                                                });
                                    });
                          done(error);
                        });
                  });
            });
      });
}

}  // namespace

void recycle_pool(pool_actor_ptr self, bool all, step done) {
  auto& st = self->state;
  if (st.status != iis::pool_status::started) {
    // "Recycle everything" skips stopped pools, as IIS's RECYCLE signal does.
    done(all ? std::nullopt
             : std::optional<iis::failure>(
                   iis::failure{iis::errc::process_failed,
                                "application pool " + pool_name(self) + " is not started"}));
    return;
  }
  ++st.counts.recycles;
  if (st.idle) {
    // No worker to recycle: the next start reads everything anew, unless
    // web.config moved an application between static content and a process.
    analyse_apps(self, [self, done](std::optional<iis::failure> error, bool changed) {
      if (error)
        done(pool_failure(self, *error));
      else if (changed)
        restart(self, done);
      else
        done(std::nullopt);
    });
    return;
  }
  if (!st.pool().overlapped_recycle) {
    restart(self, done);
    return;
  }
  // web.config may have changed (the Management API recycles after uploads).
  analyse_apps(self, [self, done](std::optional<iis::failure> error, bool changed) {
    if (error) {
      done(pool_failure(self, *error));
      return;
    }
    if (changed) {
      // An application changed between static and process: no overlap possible.
      restart(self, done);
      return;
    }
    auto& st = self->state;
    if (st.front_serves) {
      // A new generation of the front with fresh workers takes the new
      // connections; the old one finishes what it has.
      reload_front(
          self, msg::front_change::same_answer,
          [self, done](std::optional<iis::failure> error, auto) {
            done(error ? std::optional<iis::failure>(recycle_failure(self, *error)) : std::nullopt);
          });
      return;
    }
    if (!st.master.pid || !has_static(self)) {
      recycle_apps(self, done);
      return;
    }
    // Step 1: static content. SIGHUP makes nginx start new workers on the same
    // socket while the old ones finish their requests (IIS's overlapped recycle).
    const auto log =
        iis::layout::alert_log(st.plan().data_dir, iis::layout::pool_instance(st.index));
    write_conf(self, true, [self, done, log](std::optional<iis::failure> error) {
      if (error) {
        done(pool_failure(self, *error));
        return;
      }
      auto& st = self->state;
      std::vector<iis::process_ref> old_workers;
      for (auto& [pid, item] : st.processes) {
        if (item.kind == role::worker && !item.retiring) {
          item.retiring = true;
          old_workers.push_back(item.ref);
        }
      }
      st.launcher().signal(st.master, SIGHUP);
      adopt_workers(self, st.master, self->clock().now() + st.pool().start_time_limit,
                    [self, old_workers, log, done](std::vector<iis::process_ref> adopted) {
                      auto& st = self->state;
                      if (adopted.empty()) {
                        set_retiring(self, old_workers, false);
                        const auto why = st.host().last_emergency(log);
                        done(recycle_failure(self, {iis::errc::process_failed,
                                                    "nginx started no new workers" +
                                                        (why.empty() ? "" : ": " + why)}));
                        return;
                      }
                      wait_retired(self, st.polls, st.launcher(), old_workers,
                                   self->clock().now() + retire_limit,
                                   [self, done] { recycle_apps(self, done); });
                    });
    });
  });
}

void shutdown(pool_actor_ptr self, iis::duration timeout, int app_signal, step done) {
  auto& st = self->state;
  if (st.status != iis::pool_status::stopped) st.status = iis::pool_status::stopping;
  ++st.periodic_generation;
  ++st.idle_generation;
  disarm_activation(self);
  drain(self, timeout, app_signal, [self, done](std::vector<iis::process_ref> survivors) {
    close_activation(self);
    mark_stopped(self);
    std::vector<std::string> pids;
    for (const auto& p : survivors) pids.push_back(std::to_string(p.pid));
    if (survivors.empty())
      done(std::nullopt);
    else
      done(iis::failure{iis::errc::process_failed,
                        "processes " + iis::join(pids) + " survived SIGKILL"});
  });
}

void kill(pool_actor_ptr self, step done) {
  auto& st = self->state;
  if (st.status != iis::pool_status::stopped) st.status = iis::pool_status::stopping;
  ++st.periodic_generation;
  ++st.idle_generation;
  disarm_activation(self);
  kill_and_forget(self, pool_processes(self), [self, done](std::vector<iis::process_ref> left) {
    close_activation(self);
    mark_stopped(self);
    std::vector<std::string> pids;
    for (const auto& p : left) pids.push_back(std::to_string(p.pid));
    if (left.empty())
      done(std::nullopt);
    else
      done(iis::failure{iis::errc::process_failed,
                        "processes " + iis::join(pids) + " survived SIGKILL"});
  });
}

}  // namespace nomad_iis::pool
