// The pool actor: pools that start on demand and stop when idle, as IIS's
// startMode and processModel.idleTimeout define them. While a pool has no
// worker it owns its sockets and watches them: for static content the
// pool's own listening socket (its nginx inherits it, so the nginx started
// later serves what queued in its backlog), for an application process a
// wait socket where the front parks requests that found the app's port
// refusing (reset once the app accepts, so the front asks the port again).
// Keepers (socket_keeper.hpp) hold copies of these sockets so a plugin
// restart loses no request.

#include <fcntl.h>
#include <signal.h>

#include <algorithm>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/pool_flows.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::pool {
namespace {

/// A start on demand does not wait long for logmon: a request is waiting.
constexpr auto wake_output_wait = std::chrono::seconds(1);
constexpr auto min_idle_check = std::chrono::milliseconds(100);
constexpr auto max_idle_check = std::chrono::seconds(30);

int backlog_of(const iis::pool_plan& pool) {
  return static_cast<int>(pool.queue_length.value_or(1000));
}

/// A keeper to start for one of our sockets.
struct keeper_order {
  std::shared_ptr<unique_fd> socket;  ///< our own copy: the actor may close its fd meanwhile
  iis::keeper_spec spec;
};

keeper_order keeper_for(pool_actor_ptr self, int fd, const std::string& record,
                        const std::string& what, bool activates) {
  const auto& plan = self->state.plan();
  keeper_order order;
  order.socket = std::make_shared<unique_fd>(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  order.spec.record_path = record;
  order.spec.title = "nomad-iis socket keeper (" + what + ") " + plan.data_dir;
  order.spec.lock_path = iis::layout::site_lock(plan.data_dir);
  if (activates) {
    const auto instance = iis::layout::pool_instance(self->state.index);
    order.spec.activate = self->state.host().nginx_request(plan, instance, fd);
    order.spec.activate_pid_file = iis::layout::pid_file(plan.data_dir, instance);
    order.spec.stdout_path = plan.stdout_path;
    order.spec.stderr_path = plan.stderr_path;
  }
  return order;
}

/// Starts the keepers on a blocking worker; best effort (without one the
/// socket lives as long as the plugin does).
void start_keepers(pool_actor_ptr self, std::vector<keeper_order> orders, step next) {
  if (orders.empty()) {
    next(std::nullopt);
    return;
  }
  pool_job<caf::unit_t>(
      self,
      [launcher = self->state.ctx.launcher, orders] {
        for (const auto& order : orders) {
          try {
            if (*order.socket) launcher->start_keeper(order.socket->get(), order.spec);
          } catch (const std::exception&) {
            // Best effort, see above.
          }
        }
      },
      [next](job_result<caf::unit_t>) { next(std::nullopt); });
}

/// An app's wait socket unless we hold it (taken back from its keeper after
/// a plugin restart, else new and kept).
void open_wait_socket(pool_actor_ptr self, pool_actor_state::app_state& app,
                      std::vector<keeper_order>& keepers) {
  if (app.wait_socket) return;
  const auto& plan = self->state.plan();
  const auto name = iis::layout::app_wait_socket(app.runtime.app);
  const auto record = iis::layout::app_keeper_record(plan.data_dir, app.runtime.app);
  if (auto kept = self->state.host().take_back_socket(record)) {
    app.wait_socket = std::move(kept->fd);
    return;
  }
  self->state.host().stop_keeper(record);
  app.wait_socket =
      self->state.host().listen_unix(plan.data_dir, name, name, backlog_of(self->state.pool()));
  keepers.push_back(keeper_for(self, app.wait_socket.get(), record,
                               "application " + std::to_string(app.runtime.app), false));
}

std::function<void()> waker(pool_actor_ptr self) {
  return [addr = self->address()] {
    if (auto owner = caf::actor_cast<caf::actor>(addr)) caf::anon_send(owner, atom::wake_v);
  };
}

}  // namespace

void open_listener(pool_actor_ptr self, step next) {
  auto& st = self->state;
  const auto& plan = st.plan();
  const auto record = iis::layout::pool_keeper_record(plan.data_dir, st.index);
  const std::string what = "pool " + pool_name(self);
  std::vector<keeper_order> keepers;
  try {
    if (st.listener) {
      // The keeper may have become the pool's nginx while we were gone.
      const auto keeper = self->state.host().recorded_keeper(record);
      if (can_idle(self) && (!keeper || *keeper == st.master))
        keepers.push_back(keeper_for(self, st.listener.get(), record, what, true));
    } else if (auto kept = self->state.host().take_back_socket(record)) {
      // After a plugin restart: the same socket, with what queued meanwhile.
      st.listener = std::move(kept->fd);
    } else {
      // A keeper whose socket we cannot have goes; one that became the pool's
      // running nginx stays (its own stop comes with the pool's).
      if (const auto keeper = self->state.host().recorded_keeper(record);
          !keeper || !(*keeper == st.master))
        self->state.host().stop_keeper(record);
      st.listener =
          self->state.host().listen_unix(plan.data_dir, iis::layout::pool_bind_name(st.index),
                                         iis::layout::socket_name(st.index), backlog_of(st.pool()));
      if (can_idle(self))
        keepers.push_back(keeper_for(self, st.listener.get(), record, what, true));
    }
  } catch (const std::exception& e) {
    next(iis::failure_of(e, iis::errc::io_failure));
    return;
  }
  start_keepers(self, std::move(keepers), next);
}

void arm_activation(pool_actor_ptr self, step next) {
  auto& st = self->state;
  std::vector<keeper_order> keepers;
  try {
    if (st.listener && !st.listener_watch)
      st.listener_watch = st.launcher().watch_readable(st.listener.get(), waker(self));
    for (auto& app : st.apps) {
      if (!app.runtime.handler) continue;
      open_wait_socket(self, app, keepers);
      // Keeps the idle app's port from being taken; empty if someone has it.
      if (!app.port_hold && !app.process.pid && app.runtime.port)
        app.port_hold = self->state.host().reserve_tcp_port(app.runtime.port);
      if (!app.wait_watch)
        app.wait_watch = st.launcher().watch_readable(app.wait_socket.get(), waker(self));
    }
  } catch (const std::exception& e) {
    start_keepers(self, std::move(keepers),
                  [next, error = iis::failure_of(e, iis::errc::io_failure)](auto) { next(error); });
    return;
  }
  start_keepers(self, std::move(keepers), next);
}

void disarm_activation(pool_actor_ptr self) {
  auto& st = self->state;
  if (st.listener_watch) st.launcher().unwatch(st.listener_watch);
  st.listener_watch = 0;
  for (auto& app : st.apps) {
    if (app.wait_watch) st.launcher().unwatch(app.wait_watch);
    app.wait_watch = 0;
  }
}

void release_waiters(pool_actor_ptr self) {
  auto& st = self->state;
  for (auto& app : st.apps) {
    if (app.wait_watch) st.launcher().unwatch(app.wait_watch);
    app.wait_watch = 0;
    if (!app.wait_socket) continue;
    self->state.host().remove_socket_file(st.plan().data_dir,
                                          iis::layout::app_wait_socket(app.runtime.app));
    // Closing a listener resets what waits in its backlog: the front takes
    // that as a 502 and tries the app's port again (@app_retry). Every copy
    // must go, the keeper's too.
    app.wait_socket.reset();
    self->state.host().stop_keeper(
        iis::layout::app_keeper_record(st.plan().data_dir, app.runtime.app));
  }
}

void close_activation(pool_actor_ptr self) {
  disarm_activation(self);
  release_waiters(self);
  auto& st = self->state;
  const auto& data_dir = st.plan().data_dir;
  st.listener.reset();
  self->state.host().stop_keeper(iis::layout::pool_keeper_record(data_dir, st.index));
  self->state.host().remove_socket_file(data_dir, iis::layout::socket_name(st.index));
  self->state.host().remove_socket_file(data_dir, iis::layout::pool_bind_name(st.index));
  for (auto& app : st.apps) app.port_hold.reset();
}

void on_activation(pool_actor_ptr self) {
  // One watch fired (they are one-shot); the others go as well: the pool starts.
  disarm_activation(self);
  auto& st = self->state;
  if (st.status != iis::pool_status::started || !st.idle || st.waking) return;
  st.waking = true;
  run_exclusive(self, [self](finished_fn finished) {
    wake_pool(self, "on demand", std::move(finished), wake_output_wait);
  });
}

void hand_over(pool_actor_ptr self, finished_fn finished) {
  auto& st = self->state;
  st.handing_over = true;
  // A keeper starts a static pool itself; application processes it cannot.
  const bool keeper_starts =
      !has_apps(self) && self->state.host().recorded_keeper(
                             iis::layout::pool_keeper_record(st.plan().data_dir, st.index));
  if (st.status == iis::pool_status::started && st.idle && !st.waking && !keeper_starts) {
    st.waking = true;  // an activation meanwhile finds the wake queued
    run_exclusive(self, [self](finished_fn done) {
      // No waiting for logmon: the plugin has little time left (Nomad's
      // logmon outlives the plugin and reads at once).
      wake_pool(self, "as the plugin exits", std::move(done), iis::duration::zero());
    });
  }
  // Operations run in order: this one runs after the wake (and any in flight).
  run_exclusive(self, [finished](finished_fn done) {
    finished();
    done();
  });
}

namespace {

/// A start on demand could not complete: kill what started, count a crash.
void fail_wake(pool_actor_ptr self, finished_fn finished, const iis::failure& error) {
  auto processes = pool_processes(self);
  set_retiring(self, processes, true);
  kill_and_forget(self, processes, [self, finished, error](auto) {
    auto& st = self->state;
    st.master = iis::process_ref{};
    for (auto& app : st.apps) app.process = iis::process_ref{};
    st.waking = false;
    // IIS counts a worker that fails to start as a crash.
    const std::string failed =
        "application pool " + pool_name(self) + " could not start on demand: " + error.message;
    if (record_crash(self)) {
      emit(self, failed);
      rapid_fail_stop(self, finished);
      return;
    }
    // Waiting app requests get their 503 now; static ones stay queued and
    // start the next attempt. Reported once the pool waits for requests
    // again, so that the next one wakes it.
    release_waiters(self);
    arm_activation(self, [self, finished, failed](std::optional<iis::failure> error) {
      emit(self, failed);
      if (error) emit(self, "application pool " + pool_name(self) + ": " + error->message);
      finished();
    });
  });
}

/// A worker serves again: its event, and the idle clock starts anew.
void report_started(pool_actor_ptr self, const std::string& reason, poller::time_point began) {
  auto& st = self->state;
  st.last_activity = self->clock().now();
  arm_idle_check(self);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(st.last_activity - began);
  emit(self, "application pool " + pool_name(self) + " started " + reason + " in " +
                 std::to_string(took.count()) + "ms");
}

void woken(pool_actor_ptr self, const std::string& reason, poller::time_point began,
           finished_fn finished) {
  release_waiters(self);
  auto& st = self->state;
  st.idle = false;
  st.waking = false;
  st.host().take_activity(iis::layout::activity_log(st.plan().data_dir, st.index));
  report_started(self, reason, began);
  finished();
  // Not while the plugin exits: the keeper's socket must keep its nginx.
  if (can_front_serve(self) && !st.handing_over)
    run_exclusive(self, [self](finished_fn done) { serve_from_front(self, done); });
}

}  // namespace

void wake_pool(pool_actor_ptr self, std::string reason, finished_fn finished,
               iis::duration output_wait) {
  const auto began = self->clock().now();
  auto& st = self->state;
  if (st.status != iis::pool_status::started || !st.idle) {
    st.waking = false;
    finished();
    return;
  }
  disarm_activation(self);
  analyse_apps(self, [self, reason, finished, output_wait, began](std::optional<iis::failure> error,
                                                                  bool changed) {
    if (error) {
      fail_wake(self, finished, *error);
      return;
    }
    auto& st = self->state;
    if (changed) {
      // The routes of the front change: a full restart writes them anew.
      emit(self, "application pool " + pool_name(self) +
                     ": web.config changed an application between static content and a "
                     "process; restarting the pool");
      st.waking = false;
      stop_pool(self, [self, finished](std::optional<iis::failure>) {
        start_pool(self, [finished](std::optional<iis::failure>) { finished(); });
      });
      return;
    }
    bool port_moved = false;
    try {
      for (auto& app : st.apps) {
        if (!app.runtime.handler) continue;
        app.port_hold.reset();  // the app binds it now
        if (app.runtime.port == 0 ||
            self->state.host().check_bindable("127.0.0.1", app.runtime.port)) {
          app.runtime.port =
              self->state.host().pick_loopback_port();  // someone took it while we were idle
          port_moved = true;
        }
      }
    } catch (const std::exception& e) {
      fail_wake(self, finished, iis::failure_of(e, iis::errc::io_failure));
      return;
    }
    write_conf(
        self, false,
        [self, reason, finished, output_wait, began,
         port_moved](std::optional<iis::failure> error) {
          if (error) {
            fail_wake(self, finished, *error);
            return;
          }
          auto& st = self->state;
          open_outputs(
              self, st.polls, st.ctx, self->clock().now() + output_wait, true,
              [self] { return self->state.handing_over; },
              [self, reason, finished, began, port_moved](std::optional<iis::failure>,
                                                          outputs_ptr outputs) {
                spawn_pool(
                    self, outputs,
                    [self, reason, finished, began, port_moved](std::optional<iis::failure> error) {
                      if (error) {
                        fail_wake(self, finished, *error);
                        return;
                      }
                      auto& st = self->state;
                      wait_ready(self, st.polls, st.ctx, pool_targets(self),
                                 [self, reason, finished, began,
                                  port_moved](std::optional<iis::failure> error) {
                                   if (error) {
                                     fail_wake(self, finished, *error);
                                     return;
                                   }
                                   auto adopted = [self, reason, finished, began,
                                                   port_moved](auto) {
                                     if (!port_moved) {
                                       woken(self, reason, began, finished);
                                       return;
                                     }
                                     reload_front(self, msg::front_change::same_answer,
                                                  [self, reason, finished, began](
                                                      std::optional<iis::failure> error, auto) {
                                                    if (error)
                                                      fail_wake(self, finished, *error);
                                                    else
                                                      woken(self, reason, began, finished);
                                                  });
                                   };
                                   if (self->state.master.pid)
                                     adopt_workers(self, self->state.master,
                                                   self->clock().now() + adopt_limit, adopted);
                                   else
                                     adopted(std::vector<iis::process_ref>{});
                                 });
                    });
              });
        });
  });
}

void serve_from_front(pool_actor_ptr self, finished_fn finished) {
  auto& st = self->state;
  if (st.status != iis::pool_status::started || st.idle || st.front_serves || !st.master.pid ||
      !can_front_serve(self) || st.handing_over) {
    finished();
    return;
  }
  hand_files_to_front(
      self, msg::front_change::same_answer,
      [self, finished](std::optional<iis::failure> error, std::vector<iis::process_ref> old_front) {
        auto& st = self->state;
        if (error) {  // the pool's nginx serves on
          emit(self, "application pool " + pool_name(self) +
                         ": the front could not take over its files: " + error->message);
          finished();
          return;
        }
        // The front's previous generation may still proxy to the pool's nginx:
        // it goes once that generation has.
        const auto master = st.master;
        const auto own = pool_processes(self);
        set_retiring(self, own, true);
        st.master = iis::process_ref{};
        publish(self);
        finished();
        const auto limit = st.pool().shutdown_time_limit;
        wait_gone(self, st.polls, st.launcher(), old_front, self->clock().now() + limit,
                  [self, master, own, limit](auto) {
                    auto& st = self->state;
                    st.launcher().signal(master, SIGQUIT);
                    wait_gone(self, st.polls, st.launcher(), own, self->clock().now() + limit,
                              [self](auto left) { kill_all(self->state.launcher(), left); });
                  });
      });
}

void proxy_from_front(pool_actor_ptr self, step next) {
  auto& st = self->state;
  st.front_serves = false;
  st.host().persist_front_serves(st.plan(), st.index, false);
  reload_front(
      self, msg::front_change::same_answer, [self, next](std::optional<iis::failure> error, auto) {
        if (error) {
          self->state.front_serves = true;  // it still serves them
          self->state.host().persist_front_serves(self->state.plan(), self->state.index, true);
        }
        next(error);
      });
}

void arm_idle_check(pool_actor_ptr self) {
  auto& st = self->state;
  const auto& timeout = st.pool().idle_timeout;
  if (!timeout || timeout->count() <= 0) return;
  const auto interval = std::clamp<iis::duration>(
      *timeout / 4, std::chrono::duration_cast<iis::duration>(min_idle_check),
      std::chrono::duration_cast<iis::duration>(max_idle_check));
  self->delayed_send(self, interval, atom::idle_check_v, ++st.idle_generation);
}

namespace {

/// Stops the workers of a pool idle for idle_timeout; the pool stays Started.
void idle_stop(pool_actor_ptr self, finished_fn finished) {
  auto& st = self->state;
  if (st.status != iis::pool_status::started || st.idle || st.waking) {
    finished();
    return;
  }
  if (self->state.host().take_activity(iis::layout::activity_log(st.plan().data_dir, st.index))) {
    st.last_activity = self->clock().now();  // a request came in since the check
    arm_idle_check(self);
    finished();
    return;
  }
  if (st.front_serves && st.pool().start_mode == config::start_mode::always_running) {
    // IIS keeps an AlwaysRunning pool's worker running: the front's next
    // generation brings fresh ones.
    emit(self, "application pool " + pool_name(self) + " idle for " +
                   iis::seconds_text(*st.pool().idle_timeout) +
                   "; worker stopped, starting a new one (AlwaysRunning)");
    const auto began = self->clock().now();
    reload_front(self, msg::front_change::same_answer,
                 [self, finished, began](std::optional<iis::failure> error,
                                         std::vector<iis::process_ref> old_front) {
                   auto& st = self->state;
                   if (error) {
                     emit(self, "application pool " + pool_name(self) +
                                    ": no fresh worker (AlwaysRunning): " + error->message);
                     arm_idle_check(self);
                     return finished();
                   }
                   // As IIS's: the idle worker is gone when the new one is reported.
                   wait_gone(self, st.polls, st.launcher(), old_front,
                             self->clock().now() + st.pool().shutdown_time_limit,
                             [self, finished, began](auto) {
                               report_started(self, "again (AlwaysRunning)", began);
                               finished();
                             });
                 });
    return;
  }
  // Own the sockets before the workers go, so requests from now on wait
  // with us. After a plugin restart only the pool's nginx held its socket:
  // the new one takes over its names at once.
  auto proceed = [self, finished](std::optional<iis::failure> error) {
    auto& st = self->state;
    if (error) {
      emit(self,
           "application pool " + pool_name(self) + " stays up although idle: " + error->message);
      arm_idle_check(self);
      finished();
      return;
    }
    st.idle = true;  // from here their exits are no crashes
    const auto processes = pool_processes(self);
    set_retiring(self, processes, true);
    drain(self, st.pool().shutdown_time_limit, SIGTERM, [self, finished](auto) {
      auto& st = self->state;
      st.master = iis::process_ref{};
      for (auto& app : st.apps) app.process = iis::process_ref{};
      const auto& pool = st.pool();
      const bool always = pool.start_mode == config::start_mode::always_running;
      emit(self, "application pool " + pool.name + " idle for " +
                     iis::seconds_text(*pool.idle_timeout) + "; worker stopped" +
                     (always ? ", starting a new one (AlwaysRunning)" : ""));
      if (always) {
        // IIS keeps an AlwaysRunning pool's worker running: a fresh one.
        st.waking = true;
        wake_pool(self, "again (AlwaysRunning)", finished, wake_output_wait);
        return;
      }
      arm_activation(self, [self, finished](std::optional<iis::failure> error) {
        if (error) emit(self, "application pool " + pool_name(self) + ": " + error->message);
        finished();
      });
    });
  };
  auto open_waits = [self, proceed](std::optional<iis::failure> error) {
    if (error) {
      proceed(error);
      return;
    }
    std::vector<keeper_order> keepers;
    try {
      for (auto& app : self->state.apps) {
        if (app.runtime.handler) open_wait_socket(self, app, keepers);
      }
    } catch (const std::exception& e) {
      proceed(iis::failure_of(e, iis::errc::io_failure));
      return;
    }
    start_keepers(self, std::move(keepers), proceed);
  };
  if (st.front_serves) {
    // The front proxies to the pool's socket again, where requests wait for
    // a start on demand.
    open_listener(self, [self, proceed](std::optional<iis::failure> error) {
      if (error) return proceed(error);
      proxy_from_front(self, proceed);
    });
  } else if (has_static(self)) {
    open_listener(self, open_waits);
  } else {
    open_waits(std::nullopt);
  }
}

}  // namespace

void on_idle_check(pool_actor_ptr self, std::uint64_t generation) {
  auto& st = self->state;
  if (generation != st.idle_generation) return;
  if (st.status != iis::pool_status::started || st.idle || st.waking) return;  // armed again later
  const auto now = self->clock().now();
  if (self->state.host().take_activity(iis::layout::activity_log(st.plan().data_dir, st.index)))
    st.last_activity = now;
  if (now - st.last_activity < *st.pool().idle_timeout) {
    arm_idle_check(self);
    return;
  }
  // Scanning /proc for open connections can take a while: a worker does it.
  std::vector<iis::process_ref> workers;
  if (st.master.pid) workers = st.launcher().children(st.master);
  std::vector<std::int32_t> ports;
  for (const auto& app : st.apps) {
    if (app.runtime.handler && app.process.pid && app.runtime.port)
      ports.push_back(app.runtime.port);
  }
  off_thread<bool>(
      self, st.ctx.workers,
      [workers, ports, host = st.ctx.host, bind = iis::layout::pool_bind_name(st.index)] {
        if (!workers.empty() && host->open_unix_connections(workers, bind) > 0) return true;
        return std::any_of(ports.begin(), ports.end(), [&host](std::int32_t port) {
          return host->open_tcp_connections(port) > 0;
        });
      },
      [self, generation](job_result<bool> busy) {
        auto& st = self->state;
        if (generation != st.idle_generation) return;
        if (busy.ok() && *busy.value) {
          // A long request is still running: IIS does not call that idle either.
          st.last_activity = self->clock().now();
          arm_idle_check(self);
          return;
        }
        run_exclusive(self, [self](finished_fn finished) { idle_stop(self, finished); });
      });
}

}  // namespace nomad_iis::pool
