// site_core: repairs after a worker crashed (nginx respawned it, the pool's
// nginx master or an application process died) and rapid-fail protection.

#include "iis/site_core.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "iis/net_probe.hpp"
#include "iis/nginx_log.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::iis {
// ------------------------------------------------------------ crash repairs

void site_core::rapid_fail_stop(std::size_t pool, std::function<void()> finished) {
  std::size_t crashes = 0;
  {
    std::lock_guard lock(mutex_);
    if (pools_[pool].status != pool_status::started) {
      finished();
      return;
    }
    crashes = pools_[pool].crashes.size();
  }
  const auto& plan_pool = plan_.pools[pool];
  stop_pool(pool, [self = shared_from_this(), pool, crashes, finished](std::optional<std::string>) {
    const auto& plan_pool = self->plan_.pools[pool];
    self->emit("application pool " + plan_pool.name +
                   " stopped by rapid-fail protection: " + std::to_string(crashes) +
                   " worker crashes within " + seconds_text(plan_pool.rapid_fail_interval) +
                   " (limit " + std::to_string(plan_pool.rapid_fail_max_crashes) + ")",
               {{"pool", plan_pool.name}});
    finished();
  });
  (void)plan_pool;
}

void site_core::repair_pool_master(std::size_t pool, process_ref old, exit_status status,
                                   std::function<void()> finished) {
  std::vector<process_ref> orphans;
  {
    std::lock_guard lock(mutex_);
    if (pools_[pool].status != pool_status::started || pools_[pool].idle) {
      finished();
      return;
    }
    for (auto& [pid, item] : processes_) {
      if (item.kind == role::pool_worker && item.pool == pool) {
        item.retiring = true;
        orphans.push_back(item.ref);
      }
    }
  }
  auto self = shared_from_this();
  // Workers outlive a killed master and keep the old socket: end them first.
  const auto killed = kill_all(orphans);
  auto give_up = [self, pool, old, status, finished](const std::string& error) {
    self->emit("application pool " + self->plan_.pools[pool].name + ": nginx master " +
               std::to_string(old.pid) + " exited (" + describe(status) +
               ") and could not be restarted (" + error + "); stopping the pool");
    self->stop_pool(pool, [finished](std::optional<std::string>) { finished(); });
  };
  wait_gone(killed, clock::now() + kill_grace,
            [self, pool, old, status, killed, finished, give_up](std::vector<process_ref>) {
              self->forget(killed);
              try {
                self->write_pool_conf(pool);
              } catch (const std::exception& e) {
                give_up(e.what());
                return;
              }
              self->open_outputs(
                  clock::now() + repair_output_wait, true,
                  [self, pool, old, status, finished, give_up](std::optional<std::string>,
                                                               outputs_ptr outputs) {
                    process_ref master;
                    try {
                      // Requests queue in the pool's socket meanwhile (ours, inherited).
                      master = self->spawn_pool_master(pool, *outputs);
                    } catch (const std::exception& e) {
                      give_up(e.what());
                      return;
                    }
                    outputs.reset();
                    auto targets = self->pool_targets(pool);
                    targets.erase(
                        std::remove_if(targets.begin(), targets.end(),
                                       [&](const ready_target& t) { return !(t.owner == master); }),
                        targets.end());
                    self->wait_ready(targets, [self, pool, old, status, master, finished,
                                               give_up](std::optional<std::string> error) {
                      if (error) {
                        give_up(*error);
                        return;
                      }
                      self->adopt_workers(
                          master, role::pool_worker, pool, 1, clock::now() + adopt_limit,
                          [self, pool, old, status, master, finished](std::vector<process_ref>) {
                            self->emit(
                                "worker " + std::to_string(old.pid) + " (nginx master) of pool " +
                                    self->plan_.pools[pool].name + " exited (" + describe(status) +
                                    "); restarted as " + std::to_string(master.pid),
                                {{"pool", self->plan_.pools[pool].name}});
                            finished();
                          });
                    });
                  });
            });
}

void site_core::replace_pool_worker(std::size_t pool, process_ref old, exit_status status,
                                    std::function<void()> finished) {
  process_ref master;
  {
    std::lock_guard lock(mutex_);
    master = pools_[pool].master;
    if (pools_[pool].status != pool_status::started || pools_[pool].idle || !master.pid) {
      finished();
      return;
    }
  }
  // nginx respawns its crashed worker itself; we learn the new PID and report.
  adopt_workers(
      master, role::pool_worker, pool, 1, clock::now() + adopt_limit,
      [self = shared_from_this(), pool, old, status, finished](std::vector<process_ref> adopted) {
        std::string reason =
            status.known ? describe(status)
                         : worker_exit_reason(
                               layout::alert_log(self->plan_.data_dir, layout::pool_instance(pool)),
                               old.pid);
        if (reason.empty()) reason = "status unknown";
        std::string message = "worker " + std::to_string(old.pid) + " of pool " +
                              self->plan_.pools[pool].name + " exited (" + reason + ")";
        if (!adopted.empty()) {
          message += "; restarted as " + std::to_string(adopted.front().pid);
        }
        self->emit(message, {{"pool", self->plan_.pools[pool].name}});
        finished();
      });
}

void site_core::restart_app(std::size_t app, process_ref old, exit_status status,
                            std::function<void()> finished) {
  std::size_t pool = 0;
  std::int32_t port = 0;
  {
    std::lock_guard lock(mutex_);
    pool = apps_[app].pool;
    port = apps_[app].port;
    if (pools_[pool].status != pool_status::started || pools_[pool].idle ||
        apps_[app].process.pid) {
      finished();
      return;
    }
  }
  auto self = shared_from_this();
  auto give_up = [self, pool, app, old, status, finished](const std::string& error) {
    self->emit("worker " + std::to_string(old.pid) + " of pool " + self->plan_.pools[pool].name +
               " exited (" + describe(status) + ") and could not be restarted (" + error +
               "); stopping the pool");
    self->stop_pool(pool, [finished](std::optional<std::string>) { finished(); });
  };
  // Keep the port when it is free, so the front needs no reload.
  std::int32_t new_port = port;
  try {
    if (new_port == 0 || check_bindable("127.0.0.1", new_port)) new_port = pick_loopback_port();
  } catch (const std::exception& e) {
    give_up(e.what());
    return;
  }
  open_outputs(
      clock::now() + repair_output_wait, true,
      [self, pool, app, old, status, port, new_port, finished, give_up](std::optional<std::string>,
                                                                        outputs_ptr outputs) {
        process_ref process;
        try {
          self->analyse_apps(pool);
          process = self->spawn_app(app, new_port, *outputs);
        } catch (const std::exception& e) {
          give_up(e.what());
          return;
        }
        outputs.reset();
        {
          std::lock_guard lock(self->mutex_);
          self->apps_[app].process = process;
          self->apps_[app].port = new_port;
        }
        self->track(process, role::app, pool, app);
        auto report = [self, pool, old, status, process, finished] {
          self->emit("worker " + std::to_string(old.pid) + " of pool " +
                         self->plan_.pools[pool].name + " exited (" + describe(status) +
                         "); restarted as " + std::to_string(process.pid),
                     {{"pool", self->plan_.pools[pool].name}});
          finished();
        };
        auto targets = self->pool_targets(pool);
        targets.erase(std::remove_if(targets.begin(), targets.end(),
                                     [&](const ready_target& t) { return !(t.owner == process); }),
                      targets.end());
        self->wait_ready(
            targets, [self, port, new_port, report, give_up](std::optional<std::string> error) {
              if (error) {
                give_up(*error);
                return;
              }
              if (port == new_port) {
                report();
                return;
              }
              self->reload_front(
                  [report, give_up](std::optional<std::string> error, std::vector<process_ref>) {
                    if (error) {
                      give_up(*error);
                    } else {
                      report();
                    }
                  });
            });
      });
}

}  // namespace nomad_iis::iis
