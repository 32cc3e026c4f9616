// site_core: application pools that start on demand and stop when idle, as
// IIS's startMode and processModel.idleTimeout define them. While a pool has
// no worker we own its sockets and watch them: for static content the pool's
// own listening socket (its nginx inherits it, so the nginx we start serves
// the requests queued in its backlog), for an application process a wait
// socket where the front parks requests that found the app's port refusing
// (we reset them once the app accepts, and the front asks the port again).

#include <signal.h>

#include <algorithm>
#include <utility>

#include "iis/activation_socket.hpp"
#include "iis/net_probe.hpp"
#include "iis/pool_activity.hpp"
#include "iis/site_core.hpp"
#include "iis/site_layout.hpp"
#include "iis/socket_keeper.hpp"

namespace nomad_iis::iis {
namespace {

/// A start on demand does not wait long for logmon: a request is waiting.
constexpr auto wake_output_wait = std::chrono::seconds(1);
constexpr auto min_idle_check = std::chrono::milliseconds(100);
constexpr auto max_idle_check = std::chrono::seconds(30);

int backlog_of(const pool_plan& pool) {
  return static_cast<int>(pool.queue_length.value_or(1000));
}

}  // namespace

bool site_core::pool_can_idle(std::size_t pool) const {
  const auto& plan_pool = plan_.pools[pool];
  return plan_pool.start_mode == config::start_mode::on_demand ||
         (plan_pool.idle_timeout && plan_pool.idle_timeout->count() > 0);
}

void site_core::open_listener(std::size_t pool) {
  std::lock_guard lock(mutex_);
  auto& state = pools_[pool];
  const auto record = layout::pool_keeper_record(plan_.data_dir, pool);
  const std::string what = "pool " + plan_.pools[pool].name;
  if (state.listener) {
    // The keeper may have become the pool's nginx while we were gone.
    const auto keeper = recorded_keeper(record);
    if (pool_can_idle(pool) && (!keeper || *keeper == state.master)) {
      keep_socket(state.listener.get(), record, what, pool);
    }
    return;
  }
  // After a plugin restart: the same socket, with what queued meanwhile.
  if (auto kept = take_back_socket(record)) {
    state.listener = std::move(kept->fd);
    return;
  }
  // A keeper whose socket we cannot have goes; one that became the pool's
  // running nginx stays (its own stop comes with the pool's).
  if (const auto keeper = recorded_keeper(record); !keeper || !(*keeper == state.master)) {
    stop_keeper(record);
  }
  state.listener = listen_unix(plan_.data_dir, layout::pool_bind_name(pool),
                               layout::socket_name(pool), backlog_of(plan_.pools[pool]));
  if (pool_can_idle(pool)) keep_socket(state.listener.get(), record, what, pool);
}

void site_core::open_wait_socket(std::size_t app) {
  auto& state = apps_[app];
  if (state.wait_socket) return;
  const auto name = layout::app_wait_socket(app);
  const auto record = layout::app_keeper_record(plan_.data_dir, app);
  if (auto kept = take_back_socket(record)) {
    state.wait_socket = std::move(kept->fd);
    return;
  }
  stop_keeper(record);
  state.wait_socket = listen_unix(plan_.data_dir, name, name, backlog_of(plan_.pools[state.pool]));
  keep_socket(state.wait_socket.get(), record, "application " + std::to_string(app), std::nullopt);
}

void site_core::keep_socket(int fd, const std::string& record, const std::string& what,
                            std::optional<std::size_t> pool) {
  try {
    if (!site_lock_) site_lock_ = hold_site_lock(layout::site_lock(plan_.data_dir));
    keeper_spec spec;
    spec.record_path = record;
    spec.title = "nomad-iis socket keeper (" + what + ") " + plan_.data_dir;
    spec.lock_path = layout::site_lock(plan_.data_dir);
    if (pool) {
      const auto instance = layout::pool_instance(*pool);
      spec.activate = nginx_request(instance, fd);
      spec.activate_pid_file = layout::pid_file(plan_.data_dir, instance);
      spec.stdout_path = plan_.stdout_path;
      spec.stderr_path = plan_.stderr_path;
    }
    const auto keeper = start_keeper(fd, spec);
    runtime_->monitor->watch(keeper, [](exit_status) {});  // reaps it once stopped
  } catch (const std::exception&) {
    // Best effort: the socket still lives as long as the plugin does.
  }
}

void site_core::arm_activation(std::size_t pool) {
  std::weak_ptr<site_core> weak = shared_from_this();
  auto wake = [weak, pool] {
    if (auto self = weak.lock()) self->on_activation(pool);
  };
  // Under the lock: detach() closes these sockets under it too.
  std::lock_guard lock(mutex_);
  if (detached_ || destroyed_) return;
  auto& state = pools_[pool];
  if (state.listener && !state.listener_watch) {
    state.listener_watch = runtime_->monitor->watch_readable(state.listener.get(), wake);
  }
  for (std::size_t i = 0; i < apps_.size(); ++i) {
    auto& app = apps_[i];
    if (app.pool != pool || !app.handler) continue;
    open_wait_socket(i);
    // Keeps the idle app's port from being taken; empty if someone has it.
    if (!app.port_hold && !app.process.pid && app.port) app.port_hold = reserve_tcp_port(app.port);
    if (!app.wait_watch) {
      app.wait_watch = runtime_->monitor->watch_readable(app.wait_socket.get(), wake);
    }
  }
}

void site_core::disarm_activation(std::size_t pool) {
  std::lock_guard lock(mutex_);
  auto& state = pools_[pool];
  if (state.listener_watch) runtime_->monitor->unwatch(state.listener_watch);
  state.listener_watch = 0;
  for (auto& app : apps_) {
    if (app.pool != pool) continue;
    if (app.wait_watch) runtime_->monitor->unwatch(app.wait_watch);
    app.wait_watch = 0;
  }
}

void site_core::release_waiters(std::size_t pool) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < apps_.size(); ++i) {
    auto& app = apps_[i];
    if (app.pool != pool) continue;
    if (app.wait_watch) runtime_->monitor->unwatch(app.wait_watch);
    app.wait_watch = 0;
    if (!app.wait_socket) continue;
    remove_socket_file(plan_.data_dir, layout::app_wait_socket(i));
    // Closing a listener resets what waits in its backlog: the front takes
    // that as a 502 and tries the app's port again (@app_retry). Every copy
    // must go, the keeper's too.
    app.wait_socket.reset();
    stop_keeper(layout::app_keeper_record(plan_.data_dir, i));
  }
}

void site_core::close_activation(std::size_t pool) {
  disarm_activation(pool);
  release_waiters(pool);
  std::lock_guard lock(mutex_);
  pools_[pool].listener.reset();
  stop_keeper(layout::pool_keeper_record(plan_.data_dir, pool));
  remove_socket_file(plan_.data_dir, layout::socket_name(pool));
  remove_socket_file(plan_.data_dir, layout::pool_bind_name(pool));
  for (auto& app : apps_) {
    if (app.pool == pool) app.port_hold.reset();
  }
}

void site_core::on_activation(std::size_t pool) {
  // One watch fired (they are one-shot); the others go as well: the pool starts.
  disarm_activation(pool);
  {
    std::lock_guard lock(mutex_);
    auto& state = pools_[pool];
    if (detached_ || destroyed_ || state.status != pool_status::started || !state.idle ||
        state.waking) {
      return;
    }
    state.waking = true;
  }
  enqueue([self = shared_from_this(), pool](auto finished) {
    self->wake_pool(pool, "on demand", finished, wake_output_wait);
  });
}

void site_core::hand_over(completion done) {
  handing_over_ = true;
  // A keeper starts a static pool itself; application processes it cannot.
  std::vector<bool> keeper_starts(pools_.size());
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    keeper_starts[p] =
        !pool_has_apps(p) && recorded_keeper(layout::pool_keeper_record(plan_.data_dir, p));
  }
  std::vector<std::size_t> idle;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t p = 0; p < pools_.size(); ++p) {
      auto& state = pools_[p];
      if (state.status != pool_status::started || !state.idle || state.waking) continue;
      if (keeper_starts[p]) continue;
      state.waking = true;  // an activation meanwhile finds the wake queued
      idle.push_back(p);
    }
  }
  for (auto p : idle) {
    enqueue([self = shared_from_this(), p](auto finished) {
      // No waiting for logmon: the plugin has little time left (Nomad's
      // logmon outlives the plugin and reads at once).
      self->wake_pool(p, "as the plugin exits", finished, clock::duration::zero());
    });
  }
  // Jobs run in order: this one runs after the wakes (and any wake in flight).
  enqueue([self = shared_from_this(), done = std::move(done)](auto finished) {
    self->deliver(done, std::nullopt);
    finished();
  });
}

bool site_core::app_kinds_changed(std::size_t pool) {
  std::vector<bool> before;
  {
    std::lock_guard lock(mutex_);
    for (const auto& app : apps_) before.push_back(app.handler.has_value());
  }
  analyse_apps(pool);
  bool changed = false;
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < apps_.size(); ++i) {
    changed = changed || apps_[i].handler.has_value() != before[i];
  }
  front_stale_ = front_stale_ || changed;
  return changed;
}

bool site_core::take_front_stale() {
  std::lock_guard lock(mutex_);
  return std::exchange(front_stale_, false);
}

void site_core::wake_pool(std::size_t pool, std::string reason, std::function<void()> finished,
                          clock::duration output_wait) {
  const auto began = clock::now();
  {
    std::lock_guard lock(mutex_);
    auto& state = pools_[pool];
    if (destroyed_ || state.status != pool_status::started || !state.idle) {
      state.waking = false;
      finished();
      return;
    }
  }
  disarm_activation(pool);
  auto self = shared_from_this();
  const std::string name = plan_.pools[pool].name;
  auto fail = [self, pool, name, finished](const std::string& error) {
    auto processes = self->pool_processes(pool);
    {
      std::lock_guard lock(self->mutex_);
      for (const auto& process : processes) {
        auto it = self->processes_.find(process.pid);
        if (it != self->processes_.end()) it->second.retiring = true;
      }
    }
    const auto killed = self->kill_all(processes);
    self->wait_gone(
        killed, clock::now() + kill_grace,
        [self, pool, name, finished, error, processes, killed](std::vector<process_ref>) {
          self->forget(processes);
          self->forget(killed);
          bool tripped = false;
          {
            std::lock_guard lock(self->mutex_);
            self->pools_[pool].master = process_ref{};
            for (auto& app : self->apps_) {
              if (app.pool == pool) app.process = process_ref{};
            }
            self->pools_[pool].waking = false;
            // IIS counts a worker that fails to start as a crash.
            tripped = self->record_crash(pool);
          }
          self->emit("application pool " + name + " could not start on demand: " + error,
                     {{"pool", name}});
          if (tripped) {
            self->rapid_fail_stop(pool, finished);
            return;
          }
          // Waiting app requests get their 503 now; static ones
          // stay queued and start the next attempt.
          self->release_waiters(pool);
          try {
            self->arm_activation(pool);
          } catch (const std::exception& e) {
            self->emit("application pool " + name + ": " + e.what());
          }
          finished();
        });
  };
  bool port_moved = false;
  try {
    if (app_kinds_changed(pool)) {
      // The routes of the front change: a full restart writes them anew.
      emit("application pool " + name +
           ": web.config changed an application between static content and a process; "
           "restarting the pool");
      {
        std::lock_guard lock(mutex_);
        pools_[pool].waking = false;
      }
      stop_pool(pool, [self, pool, finished](std::optional<std::string>) {
        self->start_pool(pool, [finished](std::optional<std::string>) { finished(); });
      });
      return;
    }
    if (pool_has_static(pool)) write_pool_conf(pool);
    std::lock_guard lock(mutex_);
    for (auto& app : apps_) {
      if (app.pool != pool || !app.handler) continue;
      app.port_hold.reset();  // the app binds it now
      if (app.port == 0 || check_bindable("127.0.0.1", app.port)) {
        app.port = pick_loopback_port();  // someone took it while we were idle
        port_moved = true;
      }
    }
  } catch (const std::exception& e) {
    fail(e.what());
    return;
  }
  open_outputs(clock::now() + output_wait, true,
               [self, pool, name, reason, began, port_moved, finished, fail](
                   std::optional<std::string>, outputs_ptr outputs) {
                 try {
                   self->spawn_pool(pool, *outputs);
                 } catch (const std::exception& e) {
                   fail(e.what());
                   return;
                 }
                 outputs.reset();
                 self->wait_ready(
                     self->pool_targets(pool), [self, pool, name, reason, began, port_moved,
                                                finished, fail](std::optional<std::string> error) {
                       if (error) {
                         fail(*error);
                         return;
                       }
                       auto finish = [self, pool, name, reason, began, finished] {
                         self->release_waiters(pool);
                         {
                           std::lock_guard lock(self->mutex_);
                           auto& state = self->pools_[pool];
                           state.idle = false;
                           state.waking = false;
                           state.last_activity = clock::now();
                         }
                         take_activity(layout::activity_log(self->plan_.data_dir, pool));
                         self->arm_idle_check(pool);
                         const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                             clock::now() - began);
                         self->emit("application pool " + name + " started " + reason + " in " +
                                        std::to_string(took.count()) + "ms",
                                    {{"pool", name}});
                         finished();
                       };
                       auto adopted = [self, port_moved, finish, fail](std::vector<process_ref>) {
                         if (!port_moved) {
                           finish();
                           return;
                         }
                         self->reload_front([finish, fail](std::optional<std::string> error,
                                                           std::vector<process_ref>) {
                           if (error) {
                             fail(*error);
                           } else {
                             finish();
                           }
                         });
                       };
                       process_ref master;
                       {
                         std::lock_guard lock(self->mutex_);
                         master = self->pools_[pool].master;
                       }
                       if (master.pid) {
                         self->adopt_workers(master, role::pool_worker, pool, 1,
                                             clock::now() + adopt_limit, adopted);
                       } else {
                         adopted({});
                       }
                     });
               });
}

void site_core::arm_idle_check(std::size_t pool) {
  const auto& timeout = plan_.pools[pool].idle_timeout;
  if (!timeout || timeout->count() <= 0) return;
  const auto interval = std::clamp<clock::duration>(*timeout / 4, min_idle_check, max_idle_check);
  std::weak_ptr<site_core> weak = shared_from_this();
  const auto id = runtime_->runner->post_after(interval, [weak, pool] {
    if (auto self = weak.lock()) self->check_idle(pool);
  });
  std::uint64_t previous = 0;
  {
    std::lock_guard lock(mutex_);
    previous = pools_[pool].idle_timer;
    pools_[pool].idle_timer = id;
  }
  if (previous) runtime_->runner->cancel(previous);
}

void site_core::check_idle(std::size_t pool) {
  {
    std::lock_guard lock(mutex_);
    auto& state = pools_[pool];
    state.idle_timer = 0;
    if (detached_ || destroyed_ || state.status != pool_status::started || state.idle ||
        state.waking) {
      return;  // armed again when workers run again
    }
  }
  const auto now = clock::now();
  const bool active = take_activity(layout::activity_log(plan_.data_dir, pool));
  clock::duration quiet{};
  {
    std::lock_guard lock(mutex_);
    if (active) pools_[pool].last_activity = now;
    quiet = now - pools_[pool].last_activity;
  }
  if (quiet < *plan_.pools[pool].idle_timeout) {
    arm_idle_check(pool);
    return;
  }
  if (pool_busy(pool)) {
    // A long request is still running: IIS does not call that idle either.
    {
      std::lock_guard lock(mutex_);
      pools_[pool].last_activity = now;
    }
    arm_idle_check(pool);
    return;
  }
  enqueue([self = shared_from_this(), pool](auto finished) { self->idle_stop(pool, finished); });
}

bool site_core::pool_busy(std::size_t pool) const {
  process_ref master;
  std::vector<std::int32_t> ports;
  {
    std::lock_guard lock(mutex_);
    master = pools_[pool].master;
    for (const auto& app : apps_) {
      if (app.pool == pool && app.process.pid && app.port) ports.push_back(app.port);
    }
  }
  if (master.pid && open_unix_connections(children_of(master), layout::pool_bind_name(pool)) > 0) {
    return true;
  }
  return std::any_of(ports.begin(), ports.end(),
                     [](std::int32_t port) { return open_tcp_connections(port) > 0; });
}

void site_core::idle_stop(std::size_t pool, std::function<void()> finished) {
  {
    std::lock_guard lock(mutex_);
    const auto& state = pools_[pool];
    if (destroyed_ || state.status != pool_status::started || state.idle || state.waking) {
      finished();
      return;
    }
  }
  const auto& plan_pool = plan_.pools[pool];
  if (take_activity(layout::activity_log(plan_.data_dir, pool))) {
    // A request came in since the check.
    {
      std::lock_guard lock(mutex_);
      pools_[pool].last_activity = clock::now();
    }
    arm_idle_check(pool);
    finished();
    return;
  }
  // Own the sockets before the workers go, so requests from now on wait
  // with us. After a plugin restart only the pool's nginx held its socket:
  // the new one takes over its names at once.
  try {
    if (pool_has_static(pool)) open_listener(pool);
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < apps_.size(); ++i) {
      if (apps_[i].pool == pool && apps_[i].handler) open_wait_socket(i);
    }
  } catch (const std::exception& e) {
    emit("application pool " + plan_pool.name + " stays up although idle: " + e.what());
    arm_idle_check(pool);
    finished();
    return;
  }
  const auto processes = pool_processes(pool);
  process_ref master;
  std::vector<process_ref> apps;
  {
    std::lock_guard lock(mutex_);
    pools_[pool].idle = true;  // from here their exits are no crashes
    master = pools_[pool].master;
    for (const auto& process : processes) {
      auto it = processes_.find(process.pid);
      if (it == processes_.end()) continue;
      it->second.retiring = true;
      if (it->second.kind == role::app) apps.push_back(process);
    }
  }
  if (master.pid) send_signal(master, SIGQUIT);  // workers stop accepting, finish their requests
  for (const auto& app : apps) send_signal(app, SIGTERM);
  auto self = shared_from_this();
  wait_gone(processes, clock::now() + plan_pool.shutdown_time_limit,
            [self, pool, processes, finished](std::vector<process_ref> left) {
              const auto killed = self->kill_all(left);
              self->wait_gone(
                  killed, clock::now() + kill_grace,
                  [self, pool, processes, killed, finished](std::vector<process_ref>) {
                    self->forget(processes);
                    self->forget(killed);
                    {
                      std::lock_guard lock(self->mutex_);
                      self->pools_[pool].master = process_ref{};
                      for (auto& app : self->apps_) {
                        if (app.pool == pool) app.process = process_ref{};
                      }
                    }
                    const auto& plan_pool = self->plan_.pools[pool];
                    const bool always = plan_pool.start_mode == config::start_mode::always_running;
                    self->emit("application pool " + plan_pool.name + " idle for " +
                                   seconds_text(*plan_pool.idle_timeout) + "; worker stopped" +
                                   (always ? ", starting a new one (AlwaysRunning)" : ""),
                               {{"pool", plan_pool.name}});
                    if (always) {
                      // IIS keeps an AlwaysRunning pool's worker running: a fresh one.
                      {
                        std::lock_guard lock(self->mutex_);
                        self->pools_[pool].waking = true;
                      }
                      self->wake_pool(pool, "again (AlwaysRunning)", finished, wake_output_wait);
                      return;
                    }
                    try {
                      self->arm_activation(pool);
                    } catch (const std::exception& e) {
                      self->emit("application pool " + plan_pool.name + ": " + e.what());
                    }
                    finished();
                  });
            });
}

}  // namespace nomad_iis::iis
