// site_core: starting, stopping, destroying and recovering the whole site,
// and what happens when its front nginx dies on its own.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "iis/ancestor_access.hpp"
#include "iis/net_probe.hpp"
#include "iis/nginx_log.hpp"
#include "iis/site_core.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"
#include "iis/socket_keeper.hpp"
#include "iis/state_codec.hpp"
#include "iis/unix_users.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

/// The pool's nginx master as its pid file names it, if that process is an
/// nginx master working in this site's folder.
process_ref running_pool_master(const std::string& data_dir, std::size_t pool) {
  std::ifstream in(layout::pid_file(data_dir, layout::pool_instance(pool)));
  std::int32_t pid = 0;
  if (!(in >> pid) || pid <= 0) return {};
  const auto ticks = read_start_ticks(pid);
  // Its own config names it (also while a keeper's exec is still starting
  // up, before nginx retitles itself "nginx: master process").
  const auto conf = layout::conf(data_dir, layout::pool_instance(pool));
  if (!ticks || command_line(pid).find(" -c " + conf) == std::string::npos) return {};
  std::error_code error;
  const auto cwd = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", error);
  if (error || cwd != fs::path(data_dir)) return {};
  return process_ref{pid, *ticks};
}

/// The application process its pid file names ("pid start_ticks port"), if alive.
std::optional<std::pair<process_ref, std::int32_t>> running_app(const std::string& data_dir,
                                                                std::size_t app) {
  std::ifstream in(layout::app_pid_file(data_dir, app));
  process_ref ref;
  std::int32_t port = 0;
  if (!(in >> ref.pid >> ref.start_ticks >> port) || port <= 0 || !is_alive(ref)) {
    return std::nullopt;
  }
  return std::make_pair(ref, port);
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string pids_text(const std::vector<process_ref>& processes) {
  std::vector<std::string> pids;
  for (const auto& p : processes) pids.push_back(std::to_string(p.pid));
  return join(pids);
}

std::string address_text(const std::string& ip, std::int32_t port) {
  if (ip.empty()) return "*:" + std::to_string(port);
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

}  // namespace

void site_core::start(completion done) {
  enqueue([self = shared_from_this(), done = std::move(done)](auto finished) {
    self->run_start(done, finished);
  });
}

void site_core::stop(duration timeout, std::string signal, completion done) {
  int app_signal = signal.empty() ? SIGTERM : signal_from_name(signal);
  if (app_signal == 0) app_signal = SIGTERM;
  enqueue([self = shared_from_this(), timeout, app_signal, done = std::move(done)](auto finished) {
    self->run_stop(timeout, app_signal, done, finished);
  });
}

void site_core::destroy(completion done) {
  enqueue([self = shared_from_this(), done = std::move(done)](auto finished) {
    self->run_destroy(done, finished);
  });
}

void site_core::run_start(completion done, std::function<void()> finished) {
  {
    std::lock_guard lock(mutex_);
    if (destroyed_ || (started_ && front_.pid != 0)) {
      const bool destroyed = destroyed_;
      runtime_->runner->post([self = shared_from_this(), done, finished, destroyed] {
        self->deliver(
            done, destroyed ? std::optional<std::string>("the site was destroyed") : std::nullopt,
            errc::not_found);
        finished();
      });
      return;
    }
    front_expected_exit_ = false;
    started_ = false;
  }
  if (!plan_.ignored_options.empty()) {
    emit("options without effect on Linux: " + join(plan_.ignored_options),
         {{"ignored_options", join(plan_.ignored_options)}});
  }
  std::optional<failure> error;
  clock::duration start_limit = std::chrono::seconds(1);
  try {
    ensure_pool_users(plan_);  // useradd: this runs on the executor, never an actor thread
    create_site_dirs(plan_);
    write_file_atomic(layout::environment_file(plan_.data_dir), encode_environment(plan_), 0600);
    copy_placeholder(plan_);
    secure_directories();
    if (auto granted = grant_ancestor_search(plan_); !granted.empty()) {
      emit("let the pools' users pass through folders above the allocation: " + join(granted),
           {{"granted", join(granted)}});
    }
    analyse_apps(std::nullopt);
    for (std::size_t i = 0; i < plan_.applications.size(); ++i) {
      std::optional<process_handler> handler;
      {
        std::lock_guard lock(mutex_);
        handler = apps_[i].handler;
      }
      if (handler && handler->hosting_model == "inprocess") {
        emit("application " + plan_.applications[i].url_path +
             " asks for hostingModel=\"inprocess\"; on Linux its process runs out of process "
             "behind nginx");
      }
    }
    prepare_certificates();
    std::set<std::pair<std::string, std::int32_t>> listens;
    for (const auto& binding : plan_.bindings) {
      if (!listens.insert({binding.ip, binding.port}).second) continue;
      if (auto why = check_bindable(binding.ip, binding.port)) {
        throw backend_error(
            why->code, "binding " + address_text(binding.ip, binding.port) + ": " + why->message);
      }
    }
    {
      std::lock_guard lock(mutex_);
      for (auto& pool : pools_) pool.status = pool_status::starting;
    }
    for (std::size_t i = 0; i < apps_.size(); ++i) {
      bool handler = false;
      {
        std::lock_guard lock(mutex_);
        handler = apps_[i].handler.has_value();
      }
      const std::int32_t port = handler ? pick_loopback_port() : 0;
      std::lock_guard lock(mutex_);
      apps_[i].port = port;
    }
    for (std::size_t p = 0; p < plan_.pools.size(); ++p) {
      start_limit = std::max<clock::duration>(start_limit, plan_.pools[p].start_time_limit);
      if (pool_has_static(p)) {
        write_pool_conf(p);
        open_listener(p);
      }
    }
    write_front_conf();
  } catch (const std::exception& e) {
    error = failure_of(e, errc::io_failure);
  }
  if (error) {
    abort_start(*error, done, finished);
    return;
  }
  auto self = shared_from_this();
  open_outputs(
      clock::now() + start_limit, false,
      [self, done, finished, start_limit](std::optional<std::string> error, outputs_ptr outputs) {
        if (error) {
          self->abort_start({errc::io_failure, *error}, done, finished);
          return;
        }
        std::vector<ready_target> targets;
        try {
          for (std::size_t p = 0; p < self->plan_.pools.size(); ++p) {
            // OnDemand: the first request starts the worker (IIS's startMode).
            if (self->plan_.pools[p].start_mode == config::start_mode::on_demand) continue;
            self->spawn_pool(p, *outputs);
            auto pool_targets = self->pool_targets(p);
            targets.insert(targets.end(), pool_targets.begin(), pool_targets.end());
          }
          // Held until the front runs: its open of /dev/stdout must not block.
          self->front_reader_ = hold_fifo_reader(self->plan_.stdout_path);
          const auto front = self->spawn_nginx(layout::front_instance, *outputs);
          {
            std::lock_guard lock(self->mutex_);
            self->front_ = front;
          }
          self->track(front, role::front_master);
          std::set<std::pair<std::string, std::int32_t>> listens;
          for (const auto& binding : self->plan_.bindings) {
            if (!listens.insert({binding.ip, binding.port}).second) continue;
            ready_target target;
            target.what = "binding " + address_text(binding.ip, binding.port);
            target.ip = binding.ip;
            target.port = binding.port;
            target.owner = front;
            target.owner_log = layout::alert_log(self->plan_.data_dir, layout::front_instance);
            target.deadline = clock::now() + start_limit;
            target.limit_text = seconds_text(std::chrono::duration_cast<duration>(start_limit));
            targets.push_back(target);
          }
        } catch (const std::exception& e) {
          self->abort_start(failure_of(e, errc::process_failed), done, finished);
          return;
        }
        outputs.reset();  // our copies of the FIFO write ends go now
        self->wait_ready(
            std::move(targets), [self, done, finished](std::optional<std::string> error) {
              if (error) {
                self->abort_start({errc::process_failed, *error}, done, finished);
                return;
              }
              // Learn the workers each nginx master started.
              std::vector<std::tuple<process_ref, role, std::size_t>> masters;
              {
                std::lock_guard lock(self->mutex_);
                masters.emplace_back(self->front_, role::front_worker, 0);
                for (std::size_t p = 0; p < self->pools_.size(); ++p) {
                  if (self->pools_[p].master.pid) {
                    masters.emplace_back(self->pools_[p].master, role::pool_worker, p);
                  }
                }
              }
              self->adopt_all(std::move(masters), [self, done, finished] {
                self->front_reader_.reset();
                const auto now = clock::now();
                std::vector<std::size_t> idle;
                {
                  std::lock_guard lock(self->mutex_);
                  for (std::size_t p = 0; p < self->pools_.size(); ++p) {
                    auto& pool = self->pools_[p];
                    pool.status = pool_status::started;
                    pool.idle = self->plan_.pools[p].start_mode == config::start_mode::on_demand;
                    pool.last_activity = now;
                    if (pool.idle) idle.push_back(p);
                  }
                  self->started_ = true;
                }
                try {
                  for (std::size_t p : idle) self->arm_activation(p);
                } catch (const std::exception& e) {
                  self->abort_start(failure_of(e, errc::io_failure), done, finished);
                  return;
                }
                for (std::size_t p = 0; p < self->plan_.pools.size(); ++p) {
                  self->arm_periodic_restart(p);
                  self->arm_idle_check(p);
                }
                self->deliver(done, std::nullopt);
                finished();
              });
            });
      });
}

void site_core::adopt_all(std::vector<std::tuple<process_ref, role, std::size_t>> masters,
                          std::function<void()> next) {
  if (masters.empty()) {
    next();
    return;
  }
  const auto [master, kind, pool] = masters.back();
  masters.pop_back();
  adopt_workers(master, kind, pool, 1, clock::now() + adopt_limit,
                [self = shared_from_this(), masters = std::move(masters),
                 next = std::move(next)](std::vector<process_ref>) mutable {
                  self->adopt_all(std::move(masters), std::move(next));
                });
}

void site_core::abort_start(failure error, completion done, std::function<void()> finished) {
  std::vector<process_ref> all;
  {
    std::lock_guard lock(mutex_);
    front_expected_exit_ = true;
    for (auto& pool : pools_) pool.status = pool_status::stopping;
    if (front_.pid) all.push_back(front_);
    for (const auto& [pid, item] : processes_) all.push_back(item.ref);
  }
  const auto killed = kill_all(all);
  front_reader_.reset();
  wait_gone(killed, clock::now() + kill_grace,
            [self = shared_from_this(), all, error, done, finished](std::vector<process_ref>) {
              self->forget(all);
              for (std::size_t p = 0; p < self->pools_.size(); ++p) self->close_activation(p);
              remove_tree(self->plan_.data_dir);
              // Nomad destroys no task whose start failed: its pools' users go now.
              remove_pool_users(self->plan_);
              {
                std::lock_guard lock(self->mutex_);
                self->mark_all_stopped();
                self->front_ = process_ref{};
                self->started_ = false;
              }
              self->deliver(done, error);
              finished();
            });
}

void site_core::run_stop(duration timeout, int app_signal, completion done,
                         std::function<void()> finished) {
  std::vector<std::uint64_t> timers;
  process_ref front;
  {
    std::lock_guard lock(mutex_);
    front_expected_exit_ = true;
    for (auto& pool : pools_) {
      if (pool.status != pool_status::stopped) pool.status = pool_status::stopping;
      for (auto* timer : {&pool.periodic_timer, &pool.idle_timer}) {
        if (*timer) timers.push_back(*timer);
        *timer = 0;
      }
    }
    front = front_;
  }
  for (auto id : timers) runtime_->runner->cancel(id);
  for (std::size_t p = 0; p < pools_.size(); ++p) disarm_activation(p);
  const auto deadline = clock::now() + timeout;
  auto self = shared_from_this();
  // The front first: it stops accepting and finishes what is in flight while
  // the pools still answer; then the pools.
  if (front.pid) send_signal(front, SIGQUIT);
  wait_gone(
      front_processes(), deadline,
      [self, deadline, app_signal, done, finished](std::vector<process_ref> front_left) {
        std::vector<process_ref> all = front_left;
        for (std::size_t p = 0; p < self->plan_.pools.size(); ++p) {
          process_ref master;
          {
            std::lock_guard lock(self->mutex_);
            master = self->pools_[p].master;
          }
          if (master.pid) send_signal(master, SIGQUIT);
          for (const auto& process : self->pool_processes(p)) {
            all.push_back(process);
            std::lock_guard lock(self->mutex_);
            auto it = self->processes_.find(process.pid);
            if (it != self->processes_.end() && it->second.kind == role::app) {
              send_signal(process, app_signal);
            }
          }
        }
        self->wait_gone(all, deadline, [self, all, done, finished](std::vector<process_ref> left) {
          const auto killed = self->kill_all(left);
          self->wait_gone(killed, clock::now() + kill_grace,
                          [self, all, killed, done, finished](std::vector<process_ref> survivors) {
                            self->forget(all);
                            self->forget(killed);
                            for (std::size_t p = 0; p < self->plan_.pools.size(); ++p) {
                              self->close_activation(p);
                            }
                            {
                              std::lock_guard lock(self->mutex_);
                              self->mark_all_stopped();
                              self->front_ = process_ref{};
                            }
                            std::optional<failure> error;
                            if (!survivors.empty()) {
                              error = failure{
                                  errc::process_failed,
                                  "processes " + pids_text(survivors) + " survived SIGKILL"};
                            }
                            self->deliver(done, error);
                            finished();
                          });
        });
      });
}

void site_core::run_destroy(completion done, std::function<void()> finished) {
  std::vector<std::uint64_t> timers;
  std::vector<process_ref> all;
  {
    std::lock_guard lock(mutex_);
    destroyed_ = true;
    front_expected_exit_ = true;
    for (auto& pool : pools_) {
      if (pool.status != pool_status::stopped) pool.status = pool_status::stopping;
      for (auto* timer : {&pool.periodic_timer, &pool.idle_timer}) {
        if (*timer) timers.push_back(*timer);
        *timer = 0;
      }
      if (pool.master.pid) all.push_back(pool.master);
    }
    if (front_.pid) all.push_back(front_);
    for (const auto& [pid, item] : processes_) all.push_back(item.ref);
    for (const auto& app : apps_) {
      if (app.process.pid) all.push_back(app.process);
    }
  }
  for (auto id : timers) runtime_->runner->cancel(id);
  const auto killed = kill_all(all);
  wait_gone(
      killed, clock::now() + kill_grace,
      [self = shared_from_this(), all, killed, done, finished](std::vector<process_ref> survivors) {
        self->forget(all);
        self->forget(killed);
        for (std::size_t p = 0; p < self->pools_.size(); ++p) self->close_activation(p);
        remove_tree(self->plan_.data_dir);
        {
          std::lock_guard lock(self->mutex_);
          self->mark_all_stopped();
          self->front_ = process_ref{};
        }
        std::optional<failure> error;
        if (!survivors.empty()) {
          error = failure{errc::process_failed,
                          "processes " + pids_text(survivors) + " survived SIGKILL"};
        } else if (const auto stayed = remove_pool_users(self->plan_); !stayed.empty()) {
          error = failure{errc::io_failure,
                          "the pools' Unix users " + join(stayed) + " could not be removed"};
        }
        self->deliver(done, error);
        finished();
      });
}

void site_core::run_front_died(exit_status status, std::function<void()> finished) {
  // The front holds the bindings: without it the site is down. Clean up the
  // orphans (its workers keep the ports) and the pools, then tell the owner.
  std::vector<process_ref> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& pool : pools_) {
      pool.status = pool_status::stopping;
      if (pool.master.pid) all.push_back(pool.master);
    }
    for (const auto& [pid, item] : processes_) all.push_back(item.ref);
  }
  const auto killed = kill_all(all);
  const std::string front_log = layout::alert_log(plan_.data_dir, layout::front_instance);
  wait_gone(killed, clock::now() + kill_grace,
            [self = shared_from_this(), all, killed, status, finished](std::vector<process_ref>) {
              self->forget(all);
              self->forget(killed);
              for (std::size_t p = 0; p < self->pools_.size(); ++p) self->close_activation(p);
              {
                std::lock_guard lock(self->mutex_);
                self->mark_all_stopped();
              }
              exit_info info;
              info.exit_code = status.known ? status.code : -1;
              info.signal = status.known ? status.signal : 0;
              info.reason = "the front nginx of site " + self->plan_.site_name + " exited (" +
                            describe(status) + "); the site is down";
              if (self->observer_) self->call_out([&] { self->observer_->on_exit(info); });
              finished();
            });
}

void site_core::replace_front_worker(process_ref old, std::function<void()> finished) {
  process_ref front;
  {
    std::lock_guard lock(mutex_);
    front = front_;
  }
  if (!front.pid) {
    finished();
    return;
  }
  adopt_workers(front, role::front_worker, 0, 1, clock::now() + adopt_limit,
                [self = shared_from_this(), old, finished](std::vector<process_ref> adopted) {
                  std::string reason = worker_exit_reason(
                      layout::alert_log(self->plan_.data_dir, layout::front_instance), old.pid);
                  if (reason.empty()) reason = "status unknown";
                  std::string message =
                      "front worker " + std::to_string(old.pid) + " exited (" + reason + ")";
                  if (!adopted.empty())
                    message += "; restarted as " + std::to_string(adopted[0].pid);
                  self->emit(message);
                  finished();
                });
}

void site_core::recover(const saved_site& state) {
  std::vector<job> repairs;
  auto self = shared_from_this();
  {
    std::lock_guard lock(mutex_);
    // Ours again: from now on the keepers leave starting idle pools to us.
    try {
      site_lock_ = hold_site_lock(layout::site_lock(plan_.data_dir));
    } catch (const std::exception&) {
      // Without it a keeper may start a pool we are about to start too.
    }
    front_ = state.front;
    started_ = true;
    for (std::size_t p = 0; p < pools_.size() && p < state.pools.size(); ++p) {
      auto status = state.pools[p].status;
      // An operation was cut short by the restart: finish it in the safe direction.
      if (status == pool_status::starting) status = pool_status::started;
      if (status == pool_status::stopping) status = pool_status::stopped;
      // Since StartTask a pool may have been stopped or started on request.
      const bool stopped_marker =
          ::access(layout::pool_stopped_marker(plan_.data_dir, p).c_str(), F_OK) == 0;
      if (stopped_marker) status = pool_status::stopped;
      if (!stopped_marker && status == pool_status::stopped) status = pool_status::started;
      pools_[p].status = status;
      pools_[p].last_activity = clock::now();
      pools_[p].master = state.pools[p].master;
      for (const auto& app : state.pools[p].apps) {
        apps_[app.app].port = app.port;
        apps_[app.app].process = app.process;
        apps_[app.app].handler = process_handler{};  // refined below from web.config
      }
    }
  }
  for (std::size_t i = 0; i < apps_.size(); ++i) {
    bool handler = false;
    {
      std::lock_guard lock(mutex_);
      handler = apps_[i].handler.has_value();
    }
    // Whether an application runs as a process comes from the saved state
    // (that is how it runs now); the details come from web.config again.
    try {
      auto web = read_web_config(plan_.applications[i].physical_path);
      std::lock_guard lock(mutex_);
      if (handler && web.handler) apps_[i].handler = web.handler;
      apps_[i].max_body = web.max_allowed_content_length;
    } catch (const std::exception&) {
      // Keep the placeholder handler; a restart will report the problem.
    }
  }
  track(state.front, role::front_master);
  for (const auto& worker : children_of(state.front)) track(worker, role::front_worker);
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    pool_status status;
    {
      std::lock_guard lock(mutex_);
      status = pools_[p].status;
    }
    // Nomad keeps the state StartTask returned: since then the pool may have
    // started on demand, stopped when idle or replaced a crashed worker. The
    // run/ folder says what runs now (nginx keeps its pid file current).
    process_ref master = running_pool_master(plan_.data_dir, p);
    if (!master.pid && is_alive(state.pools[p].master)) master = state.pools[p].master;
    std::vector<std::pair<std::size_t, process_ref>> dead_apps;
    std::vector<std::tuple<std::size_t, process_ref, std::int32_t>> live_apps;
    for (const auto& app : state.pools[p].apps) {
      if (auto running = running_app(plan_.data_dir, app.app)) {
        live_apps.emplace_back(app.app, running->first, running->second);
      } else if (is_alive(app.process)) {
        live_apps.emplace_back(app.app, app.process, app.port);
      } else {
        dead_apps.emplace_back(app.app, app.process);
      }
    }
    {
      std::lock_guard lock(mutex_);
      pools_[p].master = process_ref{};
      for (auto& app : apps_) {
        if (app.pool == p) app.process = process_ref{};
      }
    }
    if (status == pool_status::stopped) {
      // Leftovers of a stop that the restart interrupted.
      std::vector<process_ref> leftovers;
      if (master.pid) leftovers.push_back(master);
      for (const auto& [app, process, port] : live_apps) leftovers.push_back(process);
      kill_all(leftovers);
      stop_keeper(layout::pool_keeper_record(plan_.data_dir, p));
      for (const auto& app : state.pools[p].apps) {
        stop_keeper(layout::app_keeper_record(plan_.data_dir, app.app));
      }
      continue;
    }
    const bool has_static = pool_has_static(p);
    if (!master.pid && live_apps.empty() &&
        plan_.pools[p].start_mode == config::start_mode::on_demand) {
      // Idle: our sockets died with the plugin, new ones take over their names.
      {
        std::lock_guard lock(mutex_);
        pools_[p].idle = true;
      }
      try {
        if (has_static) open_listener(p);
        arm_activation(p);
      } catch (const std::exception& e) {
        repairs.push_back([self, p, error = std::string(e.what())](auto finished) {
          self->emit("application pool " + self->plan_.pools[p].name +
                     " cannot wait for requests after the plugin restart (" + error +
                     "); stopping it");
          self->stop_pool(p, [finished](std::optional<std::string>) { finished(); });
        });
      }
      arm_periodic_restart(p);
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      pools_[p].idle = false;
      pools_[p].master = master;
      for (const auto& [app, process, port] : live_apps) {
        apps_[app].process = process;
        apps_[app].port = port;
      }
    }
    // Requests parked for an app that has started meanwhile: resetting them
    // (the keeper's copy is the last one) sends the front to the app's port.
    for (const auto& [app, process, port] : live_apps) {
      stop_keeper(layout::app_keeper_record(plan_.data_dir, app));
    }
    if (has_static) {
      // The listener the pool's nginx inherited, kept while we were gone.
      if (auto kept = take_back_socket(layout::pool_keeper_record(plan_.data_dir, p))) {
        std::lock_guard lock(mutex_);
        pools_[p].listener = std::move(kept->fd);
      }
    }
    if (master.pid) {
      // Its nginx holds the pool's socket; without a keeper's copy we open a
      // new one when it next stops.
      track(master, role::pool_master, p);
      const auto workers = children_of(master);
      for (const auto& worker : workers) track(worker, role::pool_worker, p);
      if (workers.empty()) {
        // A keeper started it just now: its worker comes in a moment.
        repairs.push_back([self, p, master](auto finished) {
          self->adopt_workers(master, role::pool_worker, p, 1, clock::now() + adopt_limit,
                              [finished](std::vector<process_ref>) { finished(); });
        });
      }
    } else if (has_static) {
      repairs.push_back([self, p, old = state.pools[p].master](auto finished) {
        self->repair_pool_master(p, old, exit_status{}, finished);
      });
    }
    for (const auto& [app, process, port] : live_apps) track(process, role::app, p, app);
    for (const auto& [app, old] : dead_apps) {
      repairs.push_back([self, a = app, old = old](auto finished) {
        self->restart_app(a, old, exit_status{}, finished);
      });
    }
    arm_periodic_restart(p);
    arm_idle_check(p);
  }
  for (auto& repair : repairs) enqueue(std::move(repair));
}

void site_core::secure_directories() {
  if (auto notes = apply_directory_security(plan_); !notes.empty()) {
    emit("directory security left some folders alone: " + join(notes, "; "),
         {{"left_alone", join(notes, "; ")}});
  }
}

void site_core::refresh_access() {
  enqueue([self = shared_from_this()](auto finished) {
    try {
      self->secure_directories();
    } catch (const std::exception& e) {
      self->emit(std::string("directory security failed after a file change: ") + e.what());
    }
    finished();
  });
}

}  // namespace nomad_iis::iis
