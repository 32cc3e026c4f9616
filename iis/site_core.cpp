// site_core: bookkeeping, the job queue, async building blocks, process
// tracking and rendering of the site's configuration files.

#include "iis/site_core.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "iis/app_command.hpp"
#include "iis/certificates.hpp"
#include "iis/net_probe.hpp"
#include "iis/nginx_log.hpp"
#include "iis/proc_stats.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

}  // namespace

std::string seconds_text(duration value) {
  const auto ms = value.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

site_core::site_core(std::shared_ptr<backend_runtime> runtime, site_plan plan,
                     std::shared_ptr<site_observer> observer)
    : runtime_(std::move(runtime)), plan_(std::move(plan)), observer_(std::move(observer)) {
  pools_.resize(plan_.pools.size());
  apps_.resize(plan_.applications.size());
  for (std::size_t i = 0; i < plan_.applications.size(); ++i) {
    for (std::size_t p = 0; p < plan_.pools.size(); ++p) {
      if (plan_.pools[p].name == plan_.applications[i].pool) apps_[i].pool = p;
    }
  }
}

// ---------------------------------------------------------------- job queue

void site_core::enqueue(job work) {
  bool start_now = false;
  {
    std::lock_guard lock(mutex_);
    if (detached_) return;
    jobs_.push_back(std::move(work));
    if (!job_running_) start_now = job_running_ = true;
  }
  if (start_now) runtime_->runner->post([self = shared_from_this()] { self->run_next_job(); });
}

void site_core::run_next_job() {
  job work;
  {
    std::lock_guard lock(mutex_);
    if (jobs_.empty() || detached_) {
      job_running_ = false;
      jobs_.clear();
      return;
    }
    work = std::move(jobs_.front());
    jobs_.pop_front();
  }
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto self = shared_from_this();
  auto finished = [self, once] {
    if (once->exchange(true)) return;
    self->runtime_->runner->post([self] { self->run_next_job(); });
  };
  try {
    work(finished);
  } catch (const std::exception&) {
    finished();
  }
}

void site_core::call_out(const std::function<void()>& fn) {
  std::lock_guard gate(gate_);
  if (detached_) return;
  try {
    fn();
  } catch (...) {
    // An observer must not break the backend.
  }
}

void site_core::deliver(const completion& done, std::optional<failure> error) {
  if (!done) return;
  call_out([&] { done(error); });
}

void site_core::deliver(const completion& done, std::optional<std::string> error, errc code) {
  deliver(done, error ? std::optional<failure>(failure{code, std::move(*error)}) : std::nullopt);
}

void site_core::emit(const std::string& message, std::map<std::string, std::string> annotations) {
  if (!observer_) return;
  annotations.emplace("site", plan_.site_name);
  site_event event{message, std::move(annotations)};
  call_out([&] { observer_->on_event(event); });
}

void site_core::detach() {
  {
    std::lock_guard gate(gate_);
    detached_ = true;
  }
  // The monitor keeps watching (its callbacks only hold a weak_ptr and find
  // nothing): so our children are still reaped when they end.
  std::vector<std::uint64_t> timers;
  std::deque<job> dropped;
  {
    std::lock_guard lock(mutex_);
    processes_.clear();
    for (auto& pool : pools_) {
      for (auto* timer : {&pool.periodic_timer, &pool.idle_timer}) {
        if (*timer) timers.push_back(*timer);
        *timer = 0;
      }
    }
    dropped.swap(jobs_);
  }
  for (auto id : timers) runtime_->runner->cancel(id);
  // Our sockets die with the plugin as well; their keepers hold them (and may
  // start idle pools: the lock that says we own the site goes now) until a
  // recovery takes them back. The files stay.
  {
    std::lock_guard lock(mutex_);
    site_lock_.reset();
  }
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    disarm_activation(p);
    std::lock_guard lock(mutex_);
    pools_[p].listener.reset();
    for (auto& app : apps_) {
      if (app.pool != p) continue;
      app.wait_socket.reset();
      app.port_hold.reset();
    }
  }
}

// ---------------------------------------------------------- async building blocks

void site_core::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  runtime_->runner->post_after(delay, [self = shared_from_this(), fn = std::move(fn)] {
    if (!self->detached_) fn();
  });
}

void site_core::poll(std::function<bool()> check, clock::time_point deadline,
                     std::function<void(bool)> next, std::chrono::milliseconds interval) {
  if (detached_) return;
  if (check()) {
    next(true);
    return;
  }
  if (clock::now() >= deadline) {
    next(false);
    return;
  }
  after(interval, [self = shared_from_this(), check = std::move(check), deadline,
                   next = std::move(next), interval]() mutable {
    self->poll(std::move(check), deadline, std::move(next), interval);
  });
}

void site_core::wait_ready(std::vector<ready_target> targets, step next) {
  auto pending = std::make_shared<std::vector<ready_target>>(std::move(targets));
  auto error = std::make_shared<std::optional<std::string>>();
  clock::time_point latest = clock::now();
  for (const auto& target : *pending) latest = std::max(latest, target.deadline);
  poll(
      [this, pending, error] {
        const auto now = clock::now();
        for (auto it = pending->begin(); it != pending->end();) {
          const bool ready = it->nginx_workers    ? !children_of(it->owner).empty()
                             : it->socket.empty() ? accepts_tcp(it->ip, it->port)
                                                  : accepts_unix(plan_.data_dir, it->socket);
          if (ready) {
            it = pending->erase(it);
            continue;
          }
          if (it->owner.pid != 0 && !is_alive(it->owner)) {
            const std::string why = it->owner_log.empty() ? "" : last_emergency(it->owner_log);
            *error = it->what + ": the process exited during start" +
                     (why.empty() ? std::string() : ": " + why);
            return true;
          }
          if (now >= it->deadline) {
            *error = it->what + " did not accept connections within " + it->limit_text;
            return true;
          }
          ++it;
        }
        return pending->empty();
      },
      latest + std::chrono::seconds(1),
      [next = std::move(next), pending, error](bool done) {
        if (!done && !*error && !pending->empty()) {
          *error = pending->front().what + " did not accept connections in time";
        }
        next(*error);
      });
}

void site_core::wait_gone(std::vector<process_ref> processes, clock::time_point deadline,
                          std::function<void(std::vector<process_ref>)> next) {
  auto left = std::make_shared<std::vector<process_ref>>(std::move(processes));
  poll(
      [left] {
        left->erase(std::remove_if(left->begin(), left->end(),
                                   [](const process_ref& p) { return !is_alive(p); }),
                    left->end());
        return left->empty();
      },
      deadline, [left, next = std::move(next)](bool) { next(*left); });
}

void site_core::open_outputs(clock::time_point deadline, bool fall_back_to_null,
                             std::function<void(std::optional<std::string>, outputs_ptr)> next) {
  auto fds = std::make_shared<output_fds>();
  auto error = std::make_shared<std::optional<std::string>>();
  poll(
      [this, fds, error, fall_back_to_null] {
        // O_NONBLOCK: open() of a FIFO without a reader fails with ENXIO
        // instead of blocking an executor thread; we retry until logmon reads.
        auto open_one = [&](const std::string& path, unique_fd& fd) {
          if (fd) return true;
          const int opened = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_APPEND);
          if (opened < 0) {
            if (errno != ENXIO) *error = "open " + path + ": " + std::strerror(errno);
            return false;
          }
          ::fcntl(opened, F_SETFL, ::fcntl(opened, F_GETFL) & ~O_NONBLOCK);
          fd.reset(opened);
          return true;
        };
        const bool out = open_one(plan_.stdout_path, fds->out);
        const bool err = open_one(plan_.stderr_path, fds->err);
        // An exiting plugin cannot wait for logmon.
        return (out && err) || error->has_value() || (fall_back_to_null && handing_over_);
      },
      deadline,
      [this, fds, error, fall_back_to_null, next = std::move(next)](bool done) {
        if (done && !*error && fds->out && fds->err) {
          next(std::nullopt, fds);
        } else if (fall_back_to_null) {
          next(std::nullopt, std::make_shared<output_fds>());
        } else {
          next(error->value_or("nobody reads the task's log FIFO " + plan_.stdout_path), nullptr);
        }
      },
      std::chrono::milliseconds(50));
}

void site_core::wait_retired(std::vector<process_ref> workers, clock::time_point deadline,
                             std::function<void()> next) {
  // Between forking new workers and telling the old ones to quit, nginx
  // still lets the old generation accept; a reload is only done after that.
  poll(
      [workers = std::move(workers)] {
        return std::all_of(workers.begin(), workers.end(), [](const process_ref& worker) {
          return !is_alive(worker) ||
                 command_line(worker.pid).find("shutting down") != std::string::npos;
        });
      },
      deadline, [next = std::move(next)](bool) { next(); }, std::chrono::milliseconds(5));
}

void site_core::adopt_workers(const process_ref& master, role kind, std::size_t pool,
                              std::size_t wanted, clock::time_point deadline,
                              std::function<void(std::vector<process_ref>)> next) {
  auto adopted = std::make_shared<std::vector<process_ref>>();
  poll(
      [this, master, kind, pool, wanted, adopted] {
        const auto children = children_of(master);
        std::vector<process_ref> fresh;
        std::size_t current = 0;
        {
          std::lock_guard lock(mutex_);
          for (const auto& child : children) {
            auto it = processes_.find(child.pid);
            if (it == processes_.end()) {
              // An old generation worker we never tracked: not one of the new ones.
              if (command_line(child.pid).find("shutting down") != std::string::npos) continue;
              fresh.push_back(child);
              ++current;
            } else if (it->second.ref == child && !it->second.retiring) {
              ++current;
            }
          }
        }
        for (const auto& child : fresh) {
          track(child, kind, pool);
          adopted->push_back(child);
        }
        return current >= wanted;
      },
      deadline, [adopted, next = std::move(next)](bool) { next(*adopted); },
      std::chrono::milliseconds(10));
}

// ---------------------------------------------------------------- processes

void site_core::track(const process_ref& ref, role kind, std::size_t pool, std::size_t app) {
  if (ref.pid <= 0) return;
  {
    std::lock_guard lock(mutex_);
    if (detached_) return;
    auto [it, inserted] = processes_.emplace(ref.pid, tracked{ref, kind, pool, app, false, 0});
    if (!inserted) {
      if (it->second.ref == ref) return;  // already watched
      it->second = tracked{ref, kind, pool, app, false, 0};
    }
  }
  std::weak_ptr<site_core> weak = shared_from_this();
  const auto id = runtime_->monitor->watch(ref, [weak, ref](exit_status status) {
    if (auto self = weak.lock()) self->on_exit(ref, status);
  });
  std::lock_guard lock(mutex_);
  auto it = processes_.find(ref.pid);
  if (it != processes_.end() && it->second.ref == ref) it->second.watch = id;
}

bool site_core::record_crash(std::size_t pool) {
  auto& state = pools_[pool];
  const auto now = clock::now();
  state.crashes.push_back(now);
  while (!state.crashes.empty() &&
         now - state.crashes.front() > plan_.pools[pool].rapid_fail_interval) {
    state.crashes.pop_front();
  }
  return static_cast<std::int64_t>(state.crashes.size()) > plan_.pools[pool].rapid_fail_max_crashes;
}

void site_core::on_exit(const process_ref& ref, exit_status status) {
  job next;
  auto self = shared_from_this();
  {
    std::lock_guard lock(mutex_);
    auto it = processes_.find(ref.pid);
    if (it == processes_.end() || !(it->second.ref == ref)) return;
    const tracked item = it->second;
    processes_.erase(it);
    if (detached_) return;
    switch (item.kind) {
      case role::front_master:
        if (front_ == ref) front_ = process_ref{};
        if (!front_expected_exit_ && started_) {
          front_expected_exit_ = true;
          next = [self, status](auto finished) { self->run_front_died(status, finished); };
        }
        break;
      case role::front_worker:
        if (!item.retiring && !front_expected_exit_ && front_.pid != 0) {
          next = [self, ref](auto finished) { self->replace_front_worker(ref, finished); };
        }
        break;
      case role::pool_master: {
        auto& pool = pools_[item.pool];
        if (pool.master == ref) pool.master = process_ref{};
        // An idle pool's exits belong to its idle stop or its start on demand.
        if (pool.status != pool_status::started || item.retiring || pool.idle) break;
        if (record_crash(item.pool)) {
          next = [self, p = item.pool](auto finished) { self->rapid_fail_stop(p, finished); };
        } else {
          next = [self, p = item.pool, ref, status](auto finished) {
            self->repair_pool_master(p, ref, status, finished);
          };
        }
        break;
      }
      case role::pool_worker: {
        auto& pool = pools_[item.pool];
        if (pool.status != pool_status::started || item.retiring || pool.master.pid == 0 ||
            pool.idle) {
          break;
        }
        if (record_crash(item.pool)) {
          next = [self, p = item.pool](auto finished) { self->rapid_fail_stop(p, finished); };
        } else {
          next = [self, p = item.pool, ref, status](auto finished) {
            self->replace_pool_worker(p, ref, status, finished);
          };
        }
        break;
      }
      case role::app: {
        auto& app = apps_[item.app];
        const bool current = app.process == ref;
        if (current) app.process = process_ref{};
        if (pools_[item.pool].status != pool_status::started || item.retiring || !current ||
            pools_[item.pool].idle) {
          break;
        }
        if (record_crash(item.pool)) {
          next = [self, p = item.pool](auto finished) { self->rapid_fail_stop(p, finished); };
        } else {
          next = [self, a = item.app, ref, status](auto finished) {
            self->restart_app(a, ref, status, finished);
          };
        }
        break;
      }
    }
  }
  if (next) enqueue(std::move(next));
}

process_ref site_core::spawn_nginx(const std::string& instance, const output_fds& outputs,
                                   int listener) {
  trim_log(layout::alert_log(plan_.data_dir, instance));
  auto request = nginx_request(instance, listener);
  request.stdout_fd = outputs.out.get();
  request.stderr_fd = outputs.err.get();
  try {
    return spawn_process(request);
  } catch (const std::exception& e) {
    throw std::runtime_error("nginx (" + instance + "): " + e.what());
  }
}

spawn_request site_core::nginx_request(const std::string& instance, int listener) const {
  spawn_request request;
  request.path = plan_.nginx_path;
  request.args = nginx_arguments(plan_.nginx_path, plan_.data_dir, instance);
  request.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (const char* tz = std::getenv("TZ")) request.env.push_back(std::string("TZ=") + tz);
  if (listener >= 0) {
    // nginx's own inheritance (as in its binary upgrade): it uses fd 3 for the
    // `listen` whose address is the socket's bound name instead of binding.
    request.inherit_fds.push_back(listener);
    request.env.push_back("NGINX=3;");
  }
  request.cwd = plan_.data_dir;  // sockets are named relative to it
  return request;
}

process_ref site_core::spawn_app(std::size_t app, std::int32_t port, const output_fds& outputs) {
  const auto& plan_app = plan_.applications[app];
  std::optional<process_handler> handler;
  std::size_t pool = 0;
  {
    std::lock_guard lock(mutex_);
    handler = apps_[app].handler;
    pool = apps_[app].pool;
  }
  if (!handler) throw std::runtime_error("application " + plan_app.url_path + " has no handler");
  const std::string alloc_dir = fs::path(plan_.task_dir).parent_path().string();
  auto command = build_app_command(*handler, plan_app, plan_.pools[pool], port, alloc_dir);
  unique_fd log_fd;
  if (!command.stdout_log_path.empty()) {
    // Below the task: created through descriptors, never through a link.
    log_fd = open_app_log(alloc_dir, command.stdout_log_path, command.request.account);
  }
  command.request.stdout_fd = log_fd ? log_fd.get() : outputs.out.get();
  command.request.stderr_fd = log_fd ? log_fd.get() : outputs.err.get();
  process_ref ref;
  try {
    ref = spawn_process(command.request);
  } catch (const std::exception& e) {
    throw std::runtime_error("application " + plan_app.url_path + ": " + e.what());
  }
  try {
    // Read by list_dangling and by a recovery (the port: the driver state is
    // StartTask's, the app may have moved since).
    write_file_atomic(layout::app_pid_file(plan_.data_dir, app),
                      std::to_string(ref.pid) + " " + std::to_string(ref.start_ticks) + " " +
                          std::to_string(port) + "\n",
                      0644);
  } catch (const std::exception&) {
    // Without it a recovery falls back on the driver state.
  }
  return ref;
}

std::vector<process_ref> site_core::pool_processes(std::size_t pool) const {
  std::vector<process_ref> out;
  std::lock_guard lock(mutex_);
  if (pools_[pool].master.pid) out.push_back(pools_[pool].master);
  for (const auto& [pid, item] : processes_) {
    if (item.kind != role::front_master && item.kind != role::front_worker && item.pool == pool &&
        !(item.ref == pools_[pool].master)) {
      out.push_back(item.ref);
    }
  }
  for (const auto& app : apps_) {
    if (app.pool == pool && app.process.pid &&
        std::find(out.begin(), out.end(), app.process) == out.end()) {
      out.push_back(app.process);
    }
  }
  return out;
}

std::vector<process_ref> site_core::front_processes() const {
  std::vector<process_ref> out;
  std::lock_guard lock(mutex_);
  if (front_.pid) out.push_back(front_);
  for (const auto& [pid, item] : processes_) {
    if (item.kind == role::front_worker) out.push_back(item.ref);
  }
  return out;
}

std::vector<process_ref> site_core::kill_all(const std::vector<process_ref>& processes) const {
  std::vector<process_ref> out;
  auto add = [&out](const process_ref& p) {
    if (std::find(out.begin(), out.end(), p) != out.end()) return false;
    out.push_back(p);
    return true;
  };
  for (const auto& process : processes) {
    // Stopped first, a master cannot respawn the workers killed next.
    send_signal(process, SIGSTOP);
    for (const auto& child : children_of(process)) {
      if (add(child)) send_signal(child, SIGKILL);
    }
    add(process);
    send_signal(process, SIGKILL);
  }
  return out;
}

void site_core::forget(const std::vector<process_ref>& processes) {
  // Only our bookkeeping: the monitor's watch stays until the exit, so the
  // process is reaped (a zombie would otherwise stay until the plugin ends).
  std::lock_guard lock(mutex_);
  for (const auto& process : processes) {
    auto it = processes_.find(process.pid);
    if (it != processes_.end() && it->second.ref == process) processes_.erase(it);
  }
}

void site_core::mark_all_stopped() {
  for (auto& pool : pools_) {
    pool.status = pool_status::stopped;
    pool.idle = false;
    pool.waking = false;
    pool.master = process_ref{};
  }
  for (auto& app : apps_) app.process = process_ref{};
}

}  // namespace nomad_iis::iis
