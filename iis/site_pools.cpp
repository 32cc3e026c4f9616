// site_core: application pool lifecycle (start, stop, recycle), front
// reloads, periodic restarts, and the repairs after a worker crashed
// (with rapid-fail protection).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "iis/net_probe.hpp"
#include "iis/nginx_log.hpp"
#include "iis/site_core.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::iis {
namespace {

constexpr auto front_reload_limit = std::chrono::seconds(10);
constexpr auto retire_limit = std::chrono::seconds(5);

}  // namespace

// ------------------------------------------------------------ owner operations

std::optional<std::vector<std::size_t>> site_core::resolve_pools(
    const std::vector<std::string>& names, std::string& error) const {
  std::vector<std::size_t> out;
  if (names.empty()) {
    for (std::size_t p = 0; p < plan_.pools.size(); ++p) out.push_back(p);
    return out;
  }
  for (const auto& name : names) {
    auto it = std::find_if(plan_.pools.begin(), plan_.pools.end(),
                           [&](const pool_plan& pool) { return pool.name == name; });
    if (it == plan_.pools.end()) {
      error = "unknown application pool \"" + name + "\"";
      return std::nullopt;
    }
    const auto index = static_cast<std::size_t>(it - plan_.pools.begin());
    if (std::find(out.begin(), out.end(), index) == out.end()) out.push_back(index);
  }
  return out;
}

void site_core::for_each_pool(std::vector<std::size_t> pools,
                              std::function<void(std::size_t, step)> action, step done) {
  auto batch = std::make_shared<pool_batch>();
  batch->pools = std::move(pools);
  batch->action = std::move(action);
  batch->done = std::move(done);
  run_pool_batch(batch);
}

void site_core::run_pool_batch(std::shared_ptr<pool_batch> batch) {
  if (batch->next == batch->pools.size()) {
    std::optional<std::string> error;
    for (const auto& e : batch->errors) error = error ? *error + "; " + e : e;
    batch->done(error);
    return;
  }
  const std::size_t pool = batch->pools[batch->next++];
  batch->action(pool, [self = shared_from_this(), batch](std::optional<std::string> error) {
    if (error) batch->errors.push_back(*error);
    self->run_pool_batch(batch);
  });
}

void site_core::start_pools(std::vector<std::string> pools, completion done) {
  enqueue([self = shared_from_this(), pools, done](auto finished) {
    std::string error;
    auto list = self->resolve_pools(pools, error);
    if (!list) {
      self->deliver(done, error, errc::not_found);
      finished();
      return;
    }
    self->for_each_pool(
        *list, [self](std::size_t p, step next) { self->start_pool(p, next); },
        [self, done, finished](std::optional<std::string> error) {
          self->deliver(done, error, errc::process_failed);
          finished();
        });
  });
}

void site_core::stop_pools(std::vector<std::string> pools, completion done) {
  enqueue([self = shared_from_this(), pools, done](auto finished) {
    std::string error;
    auto list = self->resolve_pools(pools, error);
    if (!list) {
      self->deliver(done, error, errc::not_found);
      finished();
      return;
    }
    self->for_each_pool(
        *list, [self](std::size_t p, step next) { self->stop_pool(p, next); },
        [self, done, finished](std::optional<std::string> error) {
          self->deliver(done, error, errc::process_failed);
          finished();
        });
  });
}

void site_core::recycle_pools(std::vector<std::string> pools, completion done) {
  enqueue([self = shared_from_this(), pools, done](auto finished) {
    std::string error;
    auto list = self->resolve_pools(pools, error);
    if (!list) {
      self->deliver(done, error, errc::not_found);
      finished();
      return;
    }
    const bool all = pools.empty();
    self->for_each_pool(
        *list,
        [self, all](std::size_t p, step next) {
          pool_status status;
          {
            std::lock_guard lock(self->mutex_);
            status = self->pools_[p].status;
          }
          if (status != pool_status::started) {
            // "Recycle everything" skips stopped pools, as IIS's RECYCLE signal does.
            next(all ? std::nullopt
                     : std::optional<std::string>("application pool " + self->plan_.pools[p].name +
                                                  " is not started"));
            return;
          }
          self->recycle_pool(p, next);
        },
        [self, done, finished](std::optional<std::string> error) {
          self->deliver(done, error, errc::process_failed);
          finished();
        });
  });
}

// ------------------------------------------------------------ pool lifecycle

process_ref site_core::spawn_pool_master(std::size_t pool, const output_fds& outputs) {
  open_listener(pool);
  int listener = -1;
  {
    std::lock_guard lock(mutex_);
    listener = pools_[pool].listener.get();
  }
  const auto master = spawn_nginx(layout::pool_instance(pool), outputs, listener);
  {
    std::lock_guard lock(mutex_);
    pools_[pool].master = master;
  }
  track(master, role::pool_master, pool);
  return master;
}

void site_core::spawn_pool(std::size_t pool, const output_fds& outputs) {
  if (pool_has_static(pool)) spawn_pool_master(pool, outputs);
  for (std::size_t i = 0; i < apps_.size(); ++i) {
    std::int32_t port = 0;
    {
      std::lock_guard lock(mutex_);
      if (apps_[i].pool != pool || !apps_[i].handler) continue;
      apps_[i].port_hold.reset();  // the app binds the port itself
      port = apps_[i].port;
    }
    const auto process = spawn_app(i, port, outputs);
    {
      std::lock_guard lock(mutex_);
      apps_[i].process = process;
    }
    track(process, role::app, pool, i);
  }
}

void site_core::start_pool(std::size_t pool, step done) {
  {
    std::lock_guard lock(mutex_);
    if (destroyed_) {
      done("the site was destroyed");
      return;
    }
    if (pools_[pool].status == pool_status::started ||
        pools_[pool].status == pool_status::starting) {
      done(std::nullopt);
      return;
    }
    pools_[pool].status = pool_status::starting;
    persist_pool_stopped(pool, false);
    pools_[pool].idle = false;
    pools_[pool].waking = false;
    pools_[pool].crashes.clear();  // a manual start resets rapid-fail protection
  }
  auto self = shared_from_this();
  auto fail = [self, pool, done](const std::string& error) {
    const auto processes = self->pool_processes(pool);
    const auto killed = self->kill_all(processes);
    self->wait_gone(killed, clock::now() + kill_grace,
                    [self, pool, processes, killed, done, error](std::vector<process_ref>) {
                      self->forget(processes);
                      self->forget(killed);
                      self->close_activation(pool);
                      {
                        std::lock_guard lock(self->mutex_);
                        self->pools_[pool].status = pool_status::stopped;
                        self->pools_[pool].idle = false;
                        self->pools_[pool].master = process_ref{};
                        for (auto& app : self->apps_) {
                          if (app.pool == pool) app.process = process_ref{};
                        }
                      }
                      done("application pool " + self->plan_.pools[pool].name + ": " + error);
                    });
  };
  try {
    analyse_apps(pool);
    for (std::size_t i = 0; i < apps_.size(); ++i) {
      bool handler = false;
      {
        std::lock_guard lock(mutex_);
        handler = apps_[i].pool == pool && apps_[i].handler;
      }
      if (!handler) continue;
      const auto port = pick_loopback_port();
      std::lock_guard lock(mutex_);
      apps_[i].port = port;
    }
    if (pool_has_static(pool)) {
      write_pool_conf(pool);
      open_listener(pool);
    }
  } catch (const std::exception& e) {
    fail(e.what());
    return;
  }
  if (plan_.pools[pool].start_mode == config::start_mode::on_demand) {
    // IIS starts the pool, not its worker: the first request does that.
    {
      std::lock_guard lock(mutex_);
      pools_[pool].status = pool_status::started;
      pools_[pool].idle = true;
    }
    try {
      arm_activation(pool);
    } catch (const std::exception& e) {
      fail(e.what());
      return;
    }
    arm_periodic_restart(pool);
    if (!pool_has_apps(pool) && !take_front_stale()) {
      done(std::nullopt);
      return;
    }
    // The front routes the applications to their ports again.
    reload_front([done, fail](std::optional<std::string> error, std::vector<process_ref>) {
      if (error) {
        fail(*error);
      } else {
        done(std::nullopt);
      }
    });
    return;
  }
  open_outputs(clock::now() + plan_.pools[pool].start_time_limit, false,
               [self, pool, done, fail](std::optional<std::string> error, outputs_ptr outputs) {
                 if (error) {
                   fail(*error);
                   return;
                 }
                 try {
                   self->spawn_pool(pool, *outputs);
                 } catch (const std::exception& e) {
                   fail(e.what());
                   return;
                 }
                 outputs.reset();
                 self->wait_ready(self->pool_targets(pool), [self, pool, done, fail](
                                                                std::optional<std::string> error) {
                   if (error) {
                     fail(*error);
                     return;
                   }
                   auto finish = [self, pool, done] {
                     process_ref master;
                     {
                       std::lock_guard lock(self->mutex_);
                       master = self->pools_[pool].master;
                     }
                     auto started = [self, pool, done](std::vector<process_ref>) {
                       {
                         std::lock_guard lock(self->mutex_);
                         self->pools_[pool].status = pool_status::started;
                         self->pools_[pool].last_activity = clock::now();
                       }
                       self->arm_periodic_restart(pool);
                       self->arm_idle_check(pool);
                       done(std::nullopt);
                     };
                     if (master.pid) {
                       self->adopt_workers(master, role::pool_worker, pool, 1,
                                           clock::now() + adopt_limit, started);
                     } else {
                       started({});
                     }
                   };
                   if (self->pool_has_apps(pool) || self->take_front_stale()) {
                     // The front learns the application processes' new ports.
                     self->reload_front([finish, fail](std::optional<std::string> error,
                                                       std::vector<process_ref>) {
                       if (error) {
                         fail(*error);
                       } else {
                         finish();
                       }
                     });
                   } else {
                     finish();
                   }
                 });
               });
}

void site_core::stop_pool(std::size_t pool, step done) {
  std::uint64_t timer = 0;
  std::uint64_t idle_timer = 0;
  {
    std::lock_guard lock(mutex_);
    if (pools_[pool].status == pool_status::stopped) {
      done(std::nullopt);
      return;
    }
    pools_[pool].status = pool_status::stopping;
    persist_pool_stopped(pool, true);
    timer = pools_[pool].periodic_timer;
    pools_[pool].periodic_timer = 0;
    idle_timer = pools_[pool].idle_timer;
    pools_[pool].idle_timer = 0;
  }
  if (timer) runtime_->runner->cancel(timer);
  if (idle_timer) runtime_->runner->cancel(idle_timer);
  disarm_activation(pool);
  auto self = shared_from_this();
  auto proceed = [self, pool, done] {
    const auto processes = self->pool_processes(pool);
    const auto& plan_pool = self->plan_.pools[pool];
    for (const auto& process : processes) {
      std::lock_guard lock(self->mutex_);
      auto it = self->processes_.find(process.pid);
      const bool is_master = self->pools_[pool].master == process;
      const bool is_app = it != self->processes_.end() && it->second.kind == role::app;
      if (is_master) send_signal(process, SIGQUIT);  // graceful: workers finish their requests
      if (is_app) send_signal(process, SIGTERM);
    }
    self->wait_gone(
        processes, clock::now() + plan_pool.shutdown_time_limit,
        [self, pool, processes, done](std::vector<process_ref> left) {
          const auto killed = self->kill_all(left);
          self->wait_gone(
              killed, clock::now() + kill_grace,
              [self, pool, processes, killed, done](std::vector<process_ref> survivors) {
                self->forget(processes);
                self->forget(killed);
                // Requests still queued for the pool get their 503/444 now.
                self->close_activation(pool);
                {
                  std::lock_guard lock(self->mutex_);
                  self->pools_[pool].status = pool_status::stopped;
                  self->pools_[pool].idle = false;
                  self->pools_[pool].waking = false;
                  self->pools_[pool].master = process_ref{};
                  for (auto& app : self->apps_) {
                    if (app.pool == pool) app.process = process_ref{};
                  }
                }
                if (survivors.empty()) {
                  done(std::nullopt);
                } else {
                  done("application pool " + self->plan_.pools[pool].name + ": process " +
                       std::to_string(survivors.front().pid) + " survived SIGKILL");
                }
              });
        });
  };
  if (pool_has_apps(pool)) {
    // Application ports are plain TCP ports that someone else may take once
    // the process is gone: the front stops proxying to them first.
    reload_front([proceed](std::optional<std::string>, std::vector<process_ref>) { proceed(); });
  } else {
    proceed();  // the front answers 503/444 by itself once the socket is gone
  }
}

void site_core::recycle_pool(std::size_t pool, step done) {
  auto self = shared_from_this();
  const auto& plan_pool = plan_.pools[pool];
  auto restart = [self, pool, done] {
    self->stop_pool(pool, [self, pool, done](std::optional<std::string> error) {
      if (error) {
        done(error);
        return;
      }
      self->start_pool(pool, done);
    });
  };
  bool idle = false;
  {
    std::lock_guard lock(mutex_);
    idle = pools_[pool].idle;
  }
  if (idle) {
    // No worker to recycle: the next start reads everything anew, unless
    // web.config moved an application between static content and a process.
    bool changed = false;
    try {
      changed = app_kinds_changed(pool);
    } catch (const std::exception& e) {
      done("application pool " + plan_pool.name + ": " + e.what());
      return;
    }
    if (changed) {
      restart();
    } else {
      done(std::nullopt);
    }
    return;
  }
  if (!plan_pool.overlapped_recycle) {
    restart();
    return;
  }
  // web.config may have changed (the Management API recycles after uploads).
  std::vector<bool> before;
  {
    std::lock_guard lock(mutex_);
    for (const auto& app : apps_) before.push_back(app.handler.has_value());
  }
  try {
    analyse_apps(pool);
  } catch (const std::exception& e) {
    done("application pool " + plan_pool.name + ": " + e.what());
    return;
  }
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < apps_.size(); ++i) {
      if (apps_[i].handler.has_value() != before[i]) {
        // An application changed between static and process: no overlap possible.
        front_stale_ = true;
        self->runtime_->runner->post(restart);
        return;
      }
    }
  }

  // Step 2: application processes — a new one on a new port, switch, drain the old.
  auto recycle_apps = [self, pool, done] {
    std::vector<std::size_t> apps;
    {
      std::lock_guard lock(self->mutex_);
      for (std::size_t i = 0; i < self->apps_.size(); ++i) {
        if (self->apps_[i].pool == pool && self->apps_[i].handler) apps.push_back(i);
      }
    }
    if (apps.empty()) {
      done(std::nullopt);
      return;
    }
    const auto& plan_pool = self->plan_.pools[pool];
    self->open_outputs(
        clock::now() + plan_pool.start_time_limit, false,
        [self, pool, apps, done](std::optional<std::string> error, outputs_ptr outputs) {
          const auto& plan_pool = self->plan_.pools[pool];
          if (error) {
            done("application pool " + plan_pool.name + ": " + *error);
            return;
          }
          struct fresh {
            std::size_t app;
            std::int32_t port;
            process_ref process;
          };
          auto started = std::make_shared<std::vector<fresh>>();
          std::vector<ready_target> targets;
          std::optional<std::string> spawn_error;
          for (std::size_t i : apps) {
            try {
              const auto port = pick_loopback_port();
              const auto process = self->spawn_app(i, port, *outputs);
              started->push_back(fresh{i, port, process});
              self->track(process, role::app, pool, i);
              {
                // Not current yet: its exit during start is a failed recycle, not a crash.
                std::lock_guard lock(self->mutex_);
                auto it = self->processes_.find(process.pid);
                if (it != self->processes_.end()) it->second.retiring = true;
              }
              ready_target target;
              target.what = "application " + self->plan_.applications[i].url_path +
                            " (new process " + std::to_string(process.pid) + ")";
              target.ip = "127.0.0.1";
              target.port = port;
              target.owner = process;
              std::optional<duration> limit;
              {
                std::lock_guard lock(self->mutex_);
                limit = self->apps_[i].handler->startup_time_limit;
              }
              target.deadline = clock::now() + limit.value_or(plan_pool.start_time_limit);
              target.limit_text = seconds_text(limit.value_or(plan_pool.start_time_limit));
              targets.push_back(target);
            } catch (const std::exception& e) {
              spawn_error = e.what();
              break;
            }
          }
          outputs.reset();
          auto abandon = [self, started, done, pool](const std::string& error) {
            std::vector<process_ref> processes;
            for (const auto& f : *started) processes.push_back(f.process);
            self->kill_all(processes);
            self->forget(processes);
            done("recycle of application pool " + self->plan_.pools[pool].name + ": " + error);
          };
          if (spawn_error) {
            abandon(*spawn_error);
            return;
          }
          self->wait_ready(std::move(targets), [self, pool, started, done,
                                                abandon](std::optional<std::string> error) {
            if (error) {
              abandon(*error);
              return;
            }
            std::vector<process_ref> old_apps;
            {
              std::lock_guard lock(self->mutex_);
              for (const auto& f : *started) {
                auto& app = self->apps_[f.app];
                if (app.process.pid) {
                  old_apps.push_back(app.process);
                  auto it = self->processes_.find(app.process.pid);
                  if (it != self->processes_.end()) it->second.retiring = true;
                }
                app.process = f.process;
                app.port = f.port;
                auto it = self->processes_.find(f.process.pid);
                if (it != self->processes_.end()) it->second.retiring = false;
              }
            }
            const auto limit = self->plan_.pools[pool].shutdown_time_limit;
            self->reload_front([self, old_apps, limit, done](std::optional<std::string> error,
                                                             std::vector<process_ref> old_front) {
              self->retire_apps(old_apps, old_front, limit);
              done(error);
            });
          });
        });
  };

  // Step 1: static content — SIGHUP makes nginx start new workers on the same
  // socket while the old ones finish their requests (IIS's overlapped recycle).
  process_ref master;
  {
    std::lock_guard lock(mutex_);
    master = pools_[pool].master;
  }
  if (!master.pid || !pool_has_static(pool)) {
    recycle_apps();
    return;
  }
  try {
    write_pool_conf(pool);
  } catch (const std::exception& e) {
    done("application pool " + plan_pool.name + ": " + e.what());
    return;
  }
  const std::string log = layout::alert_log(plan_.data_dir, layout::pool_instance(pool));
  trim_log(log);
  std::vector<process_ref> old_workers;
  {
    std::lock_guard lock(mutex_);
    for (auto& [pid, item] : processes_) {
      if (item.kind == role::pool_worker && item.pool == pool && !item.retiring) {
        item.retiring = true;
        old_workers.push_back(item.ref);
      }
    }
  }
  send_signal(master, SIGHUP);
  adopt_workers(
      master, role::pool_worker, pool, 1, clock::now() + plan_pool.start_time_limit,
      [self, pool, old_workers, log, recycle_apps, done](std::vector<process_ref> adopted) {
        if (adopted.empty()) {
          {
            std::lock_guard lock(self->mutex_);
            for (const auto& worker : old_workers) {
              auto it = self->processes_.find(worker.pid);
              if (it != self->processes_.end()) it->second.retiring = false;
            }
          }
          const auto why = last_emergency(log);
          done("recycle of application pool " + self->plan_.pools[pool].name +
               ": nginx started no new workers" + (why.empty() ? "" : ": " + why));
          return;
        }
        self->wait_retired(old_workers, clock::now() + retire_limit, recycle_apps);
      });
}

void site_core::reload_front(
    std::function<void(std::optional<std::string>, std::vector<process_ref>)> next) {
  try {
    write_front_conf();
  } catch (const std::exception& e) {
    next(std::string("front configuration: ") + e.what(), {});
    return;
  }
  process_ref front;
  std::vector<process_ref> old_workers;
  {
    std::lock_guard lock(mutex_);
    front = front_;
    if (front.pid) {
      for (auto& [pid, item] : processes_) {
        if (item.kind == role::front_worker && !item.retiring) {
          item.retiring = true;
          old_workers.push_back(item.ref);
        }
      }
    }
  }
  if (!front.pid) {
    next(std::nullopt, {});
    return;
  }
  const std::string log = layout::alert_log(plan_.data_dir, layout::front_instance);
  trim_log(log);
  // nginx reopens /dev/stdout (the task's stdout FIFO) while it reloads; with
  // no reader that open would block its master until logmon came back.
  auto reader = std::make_shared<unique_fd>(hold_fifo_reader(plan_.stdout_path));
  send_signal(front, SIGHUP);
  adopt_workers(front, role::front_worker, 0, 1, clock::now() + front_reload_limit,
                [self = shared_from_this(), old_workers, log, reader,
                 next = std::move(next)](std::vector<process_ref> adopted) {
                  reader->reset();  // new workers run: the master opened its logs
                  if (adopted.empty()) {
                    {
                      std::lock_guard lock(self->mutex_);
                      for (const auto& worker : old_workers) {
                        auto it = self->processes_.find(worker.pid);
                        if (it != self->processes_.end()) it->second.retiring = false;
                      }
                    }
                    const auto why = last_emergency(log);
                    next("the front nginx did not reload" + (why.empty() ? "" : ": " + why), {});
                    return;
                  }
                  self->wait_retired(old_workers, clock::now() + retire_limit,
                                     [next, old_workers] { next(std::nullopt, old_workers); });
                });
}

void site_core::retire_apps(std::vector<process_ref> old_apps,
                            std::vector<process_ref> old_front_workers, duration limit) {
  if (old_apps.empty()) return;
  auto self = shared_from_this();
  // Old front workers may still be proxying to the old processes: let them
  // drain first, then stop the old processes as IIS stops an old w3wp.
  wait_gone(
      old_front_workers, clock::now() + limit, [self, old_apps, limit](std::vector<process_ref>) {
        for (const auto& app : old_apps) send_signal(app, SIGTERM);
        self->wait_gone(old_apps, clock::now() + limit,
                        [self, old_apps](std::vector<process_ref> left) { self->kill_all(left); });
      });
}

void site_core::arm_periodic_restart(std::size_t pool) {
  const auto& period = plan_.pools[pool].periodic_restart;
  if (!period || period->count() <= 0) return;
  std::weak_ptr<site_core> weak = shared_from_this();
  const auto id = runtime_->runner->post_after(*period, [weak, pool] {
    auto self = weak.lock();
    if (!self || self->detached_) return;
    self->enqueue([self, pool](auto finished) {
      {
        std::lock_guard lock(self->mutex_);
        self->pools_[pool].periodic_timer = 0;
        if (self->pools_[pool].status != pool_status::started) {
          finished();
          return;
        }
      }
      self->recycle_pool(pool, [self, pool, finished](std::optional<std::string> error) {
        self->emit("application pool " + self->plan_.pools[pool].name +
                   " recycled (periodic_restart " +
                   seconds_text(*self->plan_.pools[pool].periodic_restart) + ")" +
                   (error ? ": " + *error : ""));
        self->arm_periodic_restart(pool);
        finished();
      });
    });
  });
  std::uint64_t previous = 0;
  {
    std::lock_guard lock(mutex_);
    previous = pools_[pool].periodic_timer;
    pools_[pool].periodic_timer = id;
  }
  if (previous) runtime_->runner->cancel(previous);
}

void site_core::persist_pool_stopped(std::size_t pool, bool stopped) {
  const auto marker = layout::pool_stopped_marker(plan_.data_dir, pool);
  if (!stopped) {
    ::unlink(marker.c_str());
    return;
  }
  // Best effort: without it a recovery would start the pool again, no worse.
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

}  // namespace nomad_iis::iis
