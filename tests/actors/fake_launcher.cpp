#include "tests/actors/fake_launcher.hpp"

#include "iis/failure.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <stdexcept>

namespace nomad_iis::test {

std::optional<std::string> nginx_instance(const iis::spawn_request& request) {
  for (std::size_t i = 0; i + 1 < request.args.size(); ++i) {
    if (request.args[i] != "-c") continue;
    const auto& conf = request.args[i + 1];
    const auto slash = conf.rfind('/');
    auto name = conf.substr(slash == std::string::npos ? 0 : slash + 1);
    const std::string suffix = ".conf";
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      return std::nullopt;
    return name.substr(0, name.size() - suffix.size());
  }
  return std::nullopt;
}

namespace {

/// The name a unix socket is bound as ("run/pool-0.bind"), or "fd N".
std::string socket_name(int fd) {
  sockaddr_un address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
      address.sun_family == AF_UNIX && address.sun_path[0] != '\0')
    return address.sun_path;
  return "fd " + std::to_string(fd);
}

bool graceful(int signal) {
  return signal == SIGQUIT || signal == SIGTERM || signal == SIGINT;
}

}  // namespace

std::string signalled(const iis::process_ref& process, const std::string& signal) {
  return "signal " + std::to_string(process.pid) + " " + signal;
}

std::string signal_name(int signal) {
  switch (signal) {
    case 0:
      return "0";
    case SIGHUP:
      return "SIGHUP";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGKILL:
      return "SIGKILL";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGTERM:
      return "SIGTERM";
    case SIGSTOP:
      return "SIGSTOP";
    case SIGCONT:
      return "SIGCONT";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "signal " + std::to_string(signal);
  }
}

bool fake_launcher::called(const std::string& call) const {
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

std::vector<std::string> fake_launcher::calls_since(std::size_t from) const {
  if (from >= calls.size()) return {};
  return {calls.begin() + static_cast<std::ptrdiff_t>(from), calls.end()};
}

std::size_t fake_launcher::count_calls(const std::string& prefix) const {
  return static_cast<std::size_t>(std::count_if(calls.begin(), calls.end(), [&](const auto& c) {
    return c.compare(0, prefix.size(), prefix) == 0;
  }));
}

const fake_launcher::process* fake_launcher::find(std::int32_t pid) const {
  auto it = table_.find(pid);
  return it == table_.end() ? nullptr : &it->second;
}

const fake_launcher::process& fake_launcher::at(std::int32_t pid) const {
  const auto* p = find(pid);
  if (!p) throw std::logic_error("fake_launcher: no process " + std::to_string(pid));
  return *p;
}

bool fake_launcher::is_alive(std::int32_t pid) const {
  const auto* p = find(pid);
  return p && p->alive;
}

std::vector<iis::process_ref> fake_launcher::live(kind what) const {
  std::vector<iis::process_ref> out;
  for (const auto& [pid, p] : table_) {
    if (p.alive && p.what == what) out.push_back(p.ref);
  }
  return out;
}

std::size_t fake_launcher::live_count() const {
  return static_cast<std::size_t>(
      std::count_if(table_.begin(), table_.end(), [](const auto& e) { return e.second.alive; }));
}

std::size_t fake_launcher::live_site_processes() const {
  return static_cast<std::size_t>(std::count_if(table_.begin(), table_.end(), [](const auto& e) {
    return e.second.alive && e.second.what != kind::keeper;
  }));
}

iis::process_ref fake_launcher::master(const std::string& instance) const {
  iis::process_ref out;
  for (const auto& [pid, p] : table_) {
    if (p.alive && (p.what == kind::front || p.what == kind::pool) && p.instance == instance)
      out = p.ref;
  }
  return out;
}

std::vector<iis::process_ref> fake_launcher::current_workers(const iis::process_ref& master) const {
  std::vector<iis::process_ref> out;
  for (const auto& [pid, p] : table_) {
    if (p.alive && p.what == kind::worker && p.parent == master.pid && !p.shutting_down)
      out.push_back(p.ref);
  }
  return out;
}

std::vector<iis::process_ref> fake_launcher::retiring_workers(
    const iis::process_ref& master) const {
  std::vector<iis::process_ref> out;
  for (const auto& [pid, p] : table_) {
    if (p.alive && p.what == kind::worker && p.parent == master.pid && p.shutting_down)
      out.push_back(p.ref);
  }
  return out;
}

fake_launcher::process* fake_launcher::live_entry(const iis::process_ref& ref) {
  auto it = table_.find(ref.pid);
  if (it == table_.end() || !it->second.alive || !(it->second.ref == ref)) return nullptr;
  return &it->second;
}

iis::process_ref fake_launcher::add(process entry) {
  const auto pid = next_pid_++;
  // Start times no real process of this pid has: /proc readers never match them.
  entry.ref = iis::process_ref{pid, 900000000ull + static_cast<std::uint64_t>(pid)};
  const auto ref = entry.ref;
  table_.emplace(pid, std::move(entry));
  return ref;
}

void fake_launcher::fork_generation(process& master) {
  if (master.owed_generations == 0 || !master.alive) return;
  master.owed_generations = 0;
  const auto master_pid = master.ref.pid;
  // nginx starts the new workers, then tells the old ones to quit.
  std::vector<std::int32_t> old;
  for (auto& [pid, p] : table_) {
    if (p.alive && p.what == kind::worker && p.parent == master_pid && !p.shutting_down) {
      p.shutting_down = true;
      old.push_back(pid);
    }
  }
  for (std::size_t i = 0; i < workers_per_master; ++i) {
    process worker;
    worker.what = kind::worker;
    worker.label = "worker";
    worker.parent = master_pid;
    worker.group = master_pid;
    add(std::move(worker));
  }
  if (retire_at_once) {
    for (auto pid : old) bury(pid, iis::exit_status{true, 0, 0});
  }
}

std::vector<iis::process_ref> fake_launcher::fork_workers(std::int32_t master_pid) {
  auto it = table_.find(master_pid);
  if (it == table_.end() || !it->second.alive)
    throw std::logic_error("fake_launcher: no live master " + std::to_string(master_pid));
  const auto before = next_pid_;
  fork_generation(it->second);
  std::vector<iis::process_ref> forked;
  for (const auto& [pid, p] : table_) {
    if (pid >= before && p.what == kind::worker && p.parent == master_pid) forked.push_back(p.ref);
  }
  return forked;
}

void fake_launcher::bury(std::int32_t pid, iis::exit_status status) {
  auto it = table_.find(pid);
  if (it == table_.end() || !it->second.alive) return;
  auto& p = it->second;
  p.alive = false;
  p.status = status;
  const auto ref = p.ref;
  if (p.what == kind::front || p.what == kind::pool) {
    // Workers of a master that is gone belong to init now.
    for (auto& [child, c] : table_) {
      if (c.alive && c.parent == pid) c.parent = 1;
    }
  }
  if (p.what == kind::worker && !p.shutting_down && respawn_workers) {
    auto master = table_.find(p.parent);
    if (master != table_.end() && master->second.alive && !master->second.stopped &&
        !master->second.quitting) {
      process worker;
      worker.what = kind::worker;
      worker.label = "worker";
      worker.parent = p.parent;
      worker.group = p.parent;
      add(std::move(worker));
    }
  }
  std::vector<std::function<void(iis::exit_status)>> callbacks;
  for (auto w = exit_watches_.begin(); w != exit_watches_.end();) {
    if (w->second.process == ref) {
      callbacks.push_back(std::move(w->second.on_exit));
      w = exit_watches_.erase(w);
    } else {
      ++w;
    }
  }
  for (auto& callback : callbacks) callback(status);
}

void fake_launcher::end(std::int32_t pid, iis::exit_status status) {
  auto it = table_.find(pid);
  if (it == table_.end() || !it->second.alive)
    throw std::logic_error("fake_launcher: no live process " + std::to_string(pid));
  const bool master = it->second.what == kind::front || it->second.what == kind::pool;
  if (master && status.signal == 0) {
    // A master that exits by itself stops its workers first.
    std::vector<std::int32_t> workers;
    for (auto& [child, c] : table_) {
      if (c.alive && c.parent == pid) {
        c.shutting_down = true;
        workers.push_back(child);
      }
    }
    for (auto child : workers) bury(child, iis::exit_status{true, 0, 0});
  }
  bury(pid, status);
}

void fake_launcher::finish(std::int32_t pid) {
  end(pid, iis::exit_status{true, 0, 0});
}

std::size_t fake_launcher::fire_readable(const std::string& name) {
  std::vector<std::function<void()>> fired;
  for (auto it = readable_watches_.begin(); it != readable_watches_.end();) {
    if (it->second.name.find(name) != std::string::npos) {
      fired.push_back(std::move(it->second.on_ready));
      it = readable_watches_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& on_ready : fired) on_ready();
  return fired.size();
}

std::vector<std::string> fake_launcher::readable_watches() const {
  std::vector<std::string> out;
  for (const auto& [id, w] : readable_watches_) out.push_back(w.name);
  return out;
}

iis::process_ref fake_launcher::spawn(const iis::spawn_request& request) {
  process entry;
  entry.request = request;
  if (auto instance = nginx_instance(request)) {
    entry.instance = *instance;
    entry.what = *instance == "front" ? kind::front : kind::pool;
    entry.label = "nginx " + *instance;
  } else {
    entry.what = kind::app;
    entry.label = "app " + request.path;
  }
  for (auto it = spawn_failures.begin(); it != spawn_failures.end(); ++it) {
    if (entry.label.find(it->first) == std::string::npos) continue;
    const auto error = it->second;
    spawn_failures.erase(it);
    calls.push_back("spawn " + entry.label + " failed");
    throw std::runtime_error(error);
  }
  calls.push_back("spawn " + entry.label);
  const bool master = entry.what != kind::app;
  if (master) entry.owed_generations = 1;
  const auto ref = add(std::move(entry));
  if (master && workers_at_once) fork_generation(table_.at(ref.pid));
  if (on_spawn) on_spawn(table_.at(ref.pid));
  return ref;
}

std::shared_ptr<iis::exec_process> fake_launcher::start_exec(const iis::exec_request& request) {
  calls.push_back("start_exec " + request.command.front());
  throw iis::backend_error(iis::errc::process_failed, "the fake launcher starts no commands");
}

iis::process_ref fake_launcher::start_keeper(int fd, const iis::keeper_spec&) {
  process entry;
  entry.what = kind::keeper;
  entry.label = "keeper " + socket_name(fd);
  calls.push_back("start_keeper " + socket_name(fd));
  return add(std::move(entry));
}

bool fake_launcher::signal(const iis::process_ref& ref, int sig) {
  calls.push_back(signalled(ref, signal_name(sig)));
  auto* p = live_entry(ref);
  if (!p) return false;
  const auto pid = ref.pid;
  const bool master = p->what == kind::front || p->what == kind::pool;
  switch (sig) {
    case 0:
      break;
    case SIGKILL:
      bury(pid, iis::exit_status{true, 0, SIGKILL});
      break;
    case SIGSTOP:
      p->stopped = true;
      break;
    case SIGCONT:
      p->stopped = false;
      break;
    case SIGHUP:
      if (master) {
        if (p->quitting) break;
        p->owed_generations = 1;
        if (workers_at_once) fork_generation(*p);
      } else {
        bury(pid, iis::exit_status{true, 0, SIGHUP});
      }
      break;
    default:
      if (!graceful(sig)) break;  // SIGUSR1 and the like: nothing to see
      if (master) {
        for (auto& [child, c] : table_) {
          if (c.alive && c.parent == pid) c.shutting_down = true;
        }
      }
      p->quitting = true;
      if (!hold_graceful) finish(pid);
      break;
  }
  return true;
}

bool fake_launcher::alive(const iis::process_ref& ref) {
  return live_entry(ref) != nullptr;
}

std::vector<iis::process_ref> fake_launcher::children(const iis::process_ref& parent) {
  std::vector<iis::process_ref> out;
  if (!live_entry(parent)) return out;
  for (const auto& [pid, p] : table_) {
    if (p.alive && p.parent == parent.pid) out.push_back(p.ref);
  }
  return out;
}

std::vector<iis::process_ref> fake_launcher::group_members(const iis::process_ref& leader,
                                                           const std::string& cwd) {
  // nginx workers stay in their master's group (and folder), also after it died.
  std::vector<iis::process_ref> out;
  const auto* master = find(leader.pid);
  if (!master || master->request.cwd != cwd) return out;
  for (const auto& [pid, p] : table_) {
    if (p.alive && (pid == leader.pid || p.group == leader.pid)) out.push_back(p.ref);
  }
  return out;
}

bool fake_launcher::shutting_down(const iis::process_ref& worker) {
  const auto* p = live_entry(worker);
  return p && p->shutting_down;
}

std::optional<std::uint64_t> fake_launcher::private_bytes(const iis::process_ref& ref) {
  if (!live_entry(ref)) return std::nullopt;
  auto it = private_by_pid.find(ref.pid);
  return it == private_by_pid.end() ? 0 : it->second;
}

std::optional<iis::process_usage> fake_launcher::usage(const iis::process_ref& ref) {
  if (!live_entry(ref)) return std::nullopt;
  auto it = usage_by_pid.find(ref.pid);
  iis::process_usage out = it == usage_by_pid.end() ? iis::process_usage{} : it->second;
  out.pid = ref.pid;
  return out;
}

bool fake_launcher::accepts_tcp(const std::string&, std::int32_t port) {
  return !tcp_closed && closed_ports.count(port) == 0;
}

bool fake_launcher::accepts_unix(const std::string&, const std::string& name) {
  return closed_sockets.count(name) == 0;
}

std::uint64_t fake_launcher::watch_exit(const iis::process_ref& ref,
                                        std::function<void(iis::exit_status)> on_exit) {
  const auto id = next_watch_++;
  if (!live_entry(ref)) {
    // As the Linux monitor: a process gone before the watch ends "unknown".
    on_exit(iis::exit_status{});
    return id;
  }
  exit_watches_.emplace(id, exit_watch{ref, std::move(on_exit)});
  return id;
}

std::uint64_t fake_launcher::watch_readable(int fd, std::function<void()> on_ready) {
  const auto id = next_watch_++;
  auto name = socket_name(fd);
  calls.push_back("watch " + name);
  readable_watches_.emplace(id, readable_watch{std::move(name), std::move(on_ready)});
  return id;
}

void fake_launcher::unwatch(std::uint64_t id) {
  exit_watches_.erase(id);
  auto it = readable_watches_.find(id);
  if (it == readable_watches_.end()) return;
  calls.push_back("unwatch " + it->second.name);
  readable_watches_.erase(it);
}

}  // namespace nomad_iis::test
