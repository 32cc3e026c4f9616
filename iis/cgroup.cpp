#include "iis/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "common/unique_fd.hpp"
#include "iis/proc_file.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

/// The v1 controllers a task joins (Nomad's exec driver uses the same ones).
const std::vector<std::string> v1_controllers{"cpu", "cpuacct", "cpuset", "memory", "pids"};
/// The v2 controllers we enable for the task's subtree, when offered.
const std::vector<std::string> v2_controllers{"cpu", "cpuset", "memory", "pids"};

constexpr long cgroup1_magic = 0x27e0eb;
constexpr long cgroup2_magic = 0x63677270;
constexpr std::size_t max_name = 200;

[[noreturn]] void fail(const std::string& what, int error = errno) {
  throw std::system_error(error, std::generic_category(), what);
}

void write_file(const std::string& path, const std::string& value) {
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) fail("open " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    fail("write " + value + " to " + path);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

bool has_word(const std::string& list, const std::string& word) {
  std::istringstream in(list);
  std::string item;
  while (in >> item)
    if (item == word) return true;
  return false;
}

/// mountinfo escapes blanks and backslashes as \ooo.
std::string unescape(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    const bool octal =
        i + 3 < field.size() && std::all_of(field.begin() + i + 1, field.begin() + i + 4,
                                            [](char c) { return c >= '0' && c <= '7'; });
    if (field[i] == '\\' && octal) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

struct mount_entry {
  std::string root;  ///< the hierarchy's path the mount shows
  std::string point;
};

/// cgroup mounts by controller ("" = the v2 mount).
std::map<std::string, mount_entry> read_mounts() {
  std::map<std::string, mount_entry> mounts;
  for (const auto& line : split(read_small_file("/proc/self/mountinfo").value_or(""), '\n')) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const auto before = split(line.substr(0, dash), ' ');
    std::istringstream after(line.substr(dash + 3));
    std::string type, source, options;
    after >> type >> source >> options;
    if (before.size() < 5) continue;
    const mount_entry entry{unescape(before[3]), unescape(before[4])};
    if (type == "cgroup2") {
      mounts.emplace("", entry);
    } else if (type == "cgroup") {
      for (const auto& option : split(options, ','))
        if (std::find(v1_controllers.begin(), v1_controllers.end(), option) != v1_controllers.end())
          mounts.emplace(option, entry);
    }
  }
  return mounts;
}

/// Our own cgroup path by controller ("" = v2).
std::map<std::string, std::string> read_own_paths() {
  std::map<std::string, std::string> paths;
  for (const auto& line : split(read_small_file("/proc/self/cgroup").value_or(""), '\n')) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const auto controllers = line.substr(first + 1, second - first - 1);
    const auto path = line.substr(second + 1);
    if (controllers.empty()) {
      paths[""] = path;
      continue;
    }
    for (const auto& controller : split(controllers, ',')) paths[controller] = path;
  }
  return paths;
}

/// Where `path` of a hierarchy appears under `mount`.
std::string dir_under(const mount_entry& mount, const std::string& path) {
  std::string rest = path;
  if (mount.root != "/" && rest.rfind(mount.root, 0) == 0) rest = rest.substr(mount.root.size());
  return fs::path(mount.point + "/" + rest).lexically_normal().string();
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

/// v2 is ours when the root of its mount offers cpu and memory (a root
/// cgroup may enable them for its children whatever processes it holds).
bool v2_usable(const std::string& root, std::string& reason) {
  const auto offered = read_small_file(root + "/cgroup.controllers").value_or("");
  for (const char* needed : {"cpu", "memory"}) {
    if (!has_word(offered, needed)) {
      reason = std::string("cgroup v2 at ") + root + " offers no " + needed +
               " controller (bound to v1?)";
      return false;
    }
  }
  return true;
}

void check_name(const std::string& name) {
  const bool safe = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
  if (name.empty() || name.size() > max_name || !safe || name.front() == '.')
    throw std::invalid_argument("unsafe cgroup name \"" + name + "\"");
}

/// `dir`, or (once removed) its nearest existing ancestor, is on a cgroup file system.
bool is_cgroup_fs(fs::path dir) {
  struct statfs info {};
  while (::statfs(dir.c_str(), &info) != 0 && errno == ENOENT && dir.has_relative_path())
    dir = dir.parent_path();
  return info.f_type == cgroup1_magic || info.f_type == cgroup2_magic;
}

/// A new v1 cpuset has no cpus and no mems: nothing could join it.
void inherit_cpuset(const std::string& dir) {
  const auto parent = fs::path(dir).parent_path().string();
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    const auto own = trimmed(read_small_file(dir + "/" + file).value_or(""));
    if (!own.empty()) continue;
    write_file(dir + "/" + file, trimmed(read_small_file(parent + "/" + file).value_or("")));
  }
}

/// Lets the children of `dir` have the v2 controllers `dir` is offered.
void delegate_v2(const std::string& dir) {
  const auto offered = read_small_file(dir + "/cgroup.controllers").value_or("");
  const auto enabled = read_small_file(dir + "/cgroup.subtree_control").value_or("");
  for (const auto& controller : v2_controllers)
    if (has_word(offered, controller) && !has_word(enabled, controller))
      write_file(dir + "/cgroup.subtree_control", "+" + controller);
}

void make_dir(const std::string& dir, cgroup_version version, bool cpuset) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return;
  const auto parent = fs::path(dir).parent_path().string();
  make_dir(parent, version, cpuset);
  if (version == cgroup_version::v2) delegate_v2(parent);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) fail("mkdir " + dir);
  if (cpuset) inherit_cpuset(dir);
}

std::vector<pid_t> read_procs(const std::string& dir) {
  std::vector<pid_t> pids;
  std::istringstream in(read_small_file(dir + "/cgroup.procs").value_or(""));
  long pid = 0;
  while (in >> pid) pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

void collect_pids(const std::string& dir, std::set<pid_t>& pids) {
  for (auto pid : read_procs(dir)) pids.insert(pid);
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (entry.is_directory(error) && !entry.is_symlink(error))
      collect_pids(entry.path().string(), pids);
}

/// SIGKILL to `pid` if it is still in a cgroup below one of `dirs` (a pidfd
/// pins it, so a reused PID is never hit).
void kill_member(pid_t pid, const cgroup_dirs& group) {
  unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return;
  const auto own = read_small_file("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
  bool member = false;
  for (const auto& dir : group.unique_dirs()) {
    // From the nomad_iis parent on, a path names one task's cgroup on any mount.
    const auto parent = dir.find("/nomad_iis/");
    const auto tail = parent == std::string::npos ? dir : dir.substr(parent);
    member = member || own.find(tail + "/") != std::string::npos ||
             own.find(tail + "\n") != std::string::npos;
  }
  if (member) ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
}

/// Leaves first, then `dir`; what stayed goes into `left`.
void remove_tree(const std::string& dir, std::vector<std::string>& left) {
  std::error_code error;
  std::vector<std::string> children;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (entry.is_directory(error) && !entry.is_symlink(error))
      children.push_back(entry.path().string());
  for (const auto& child : children) remove_tree(child, left);
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    left.push_back(dir + ": " + std::generic_category().message(errno));
}

std::string format_quota(const resource_limits& limits) {
  return std::to_string(limits.cpu_quota_us) + " " + std::to_string(limits.cpu_period_us);
}

void apply_v1(const cgroup_dirs& group, const resource_limits& limits) {
  const auto cpu = group.dir_of("cpu");
  const auto memory = group.dir_of("memory");
  const auto cpuset = group.dir_of("cpuset");
  if (limits.cpu_shares > 0 && !cpu.empty())
    write_file(cpu + "/cpu.shares", std::to_string(limits.cpu_shares));
  if (limits.cpu_quota_us > 0 && !cpu.empty()) {
    write_file(cpu + "/cpu.cfs_period_us", std::to_string(limits.cpu_period_us));
    write_file(cpu + "/cpu.cfs_quota_us", std::to_string(limits.cpu_quota_us));
  }
  if (!memory.empty() && (limits.memory_max_bytes > 0 || limits.memory_low_bytes > 0)) {
    if (limits.memory_max_bytes > 0)
      write_file(memory + "/memory.limit_in_bytes", std::to_string(limits.memory_max_bytes));
    if (limits.memory_low_bytes > 0)
      write_file(memory + "/memory.soft_limit_in_bytes", std::to_string(limits.memory_low_bytes));
    write_file(memory + "/memory.swappiness", "0");  // as Nomad: no swapping past the limit
  }
  if (!limits.cpuset_cpus.empty() && !cpuset.empty())
    write_file(cpuset + "/cpuset.cpus", limits.cpuset_cpus);
}

void apply_v2(const std::string& dir, const resource_limits& limits) {
  if (limits.cpu_shares > 0)
    write_file(
        dir + "/cpu.weight",
        std::to_string(cpu_weight_from_shares(static_cast<std::uint64_t>(limits.cpu_shares))));
  if (limits.cpu_quota_us > 0) write_file(dir + "/cpu.max", format_quota(limits));
  if (limits.memory_max_bytes > 0) {
    write_file(dir + "/memory.max", std::to_string(limits.memory_max_bytes));
    if (::access((dir + "/memory.swap.max").c_str(), F_OK) == 0)
      write_file(dir + "/memory.swap.max", "0");
  }
  if (limits.memory_low_bytes > 0)
    write_file(dir + "/memory.low", std::to_string(limits.memory_low_bytes));
  if (!limits.cpuset_cpus.empty()) write_file(dir + "/cpuset.cpus", limits.cpuset_cpus);
}

}  // namespace

const char* to_string(cgroup_version version) {
  switch (version) {
    case cgroup_version::v1:
      return "v1";
    case cgroup_version::v2:
      return "v2";
    default:
      return "";
  }
}

cgroup_system probe_cgroups() {
  cgroup_system system;
  const auto mounts = read_mounts();
  const auto own = read_own_paths();
  std::string v2_reason = "no cgroup v2 mount";
  // v2 forbids processes beside enabled children: our own cgroup (it holds
  // the plugin) cannot be the parent, the root of the mount is, as Nomad's
  // nomad.slice.
  if (auto v2 = mounts.find(""); v2 != mounts.end()) {
    const auto& root = v2->second.point;
    if (v2_usable(root, v2_reason)) {
      system.version = cgroup_version::v2;
      system.mountpoint = root;
      system.own = {cgroup_version::v2, {{"", root}}};
      return system;
    }
  }
  cgroup_dirs v1{cgroup_version::v1, {}};
  for (const auto& controller : v1_controllers) {
    auto mount = mounts.find(controller);
    if (mount == mounts.end() || !own.count(controller)) continue;
    v1.by_controller[controller] = dir_under(mount->second, own.at(controller));
  }
  if (!v1.by_controller.count("memory") || !v1.by_controller.count("cpu")) {
    system.reason = v2_reason + "; no cgroup v1 memory and cpu hierarchies";
    return system;
  }
  system.version = cgroup_version::v1;
  system.mountpoint = fs::path(mounts.at("memory").point).parent_path().string();
  system.own = std::move(v1);
  return system;
}

cgroup_system usable_cgroups() {
  auto system = probe_cgroups();
  if (system.version == cgroup_version::none) return system;
  auto unusable = [](std::string reason) {
    cgroup_system none;
    none.reason = std::move(reason);
    return none;
  };
  if (::geteuid() != 0) return unusable("the plugin does not run as root");
  try {
    create_cgroup(child_cgroup(system.own, "nomad_iis"));
  } catch (const std::exception& e) {
    return unusable(std::string("cannot create cgroups: ") + e.what());
  }
  return system;
}

std::vector<std::string> task_leaf_procs(const cgroup_dirs& task, const std::string& leaf) {
  if (task.empty()) return {};
  const auto group = child_cgroup(task, leaf);
  create_cgroup(group);
  return procs_files(group);
}

cgroup_dirs task_cgroup(const cgroup_system& system, const std::string& site_name) {
  check_name(site_name);
  cgroup_dirs group{system.version, {}};
  for (const auto& [controller, dir] : system.own.by_controller)
    group.by_controller[controller] = dir + "/nomad_iis/" + site_name + ".scope";
  return group;
}

cgroup_dirs child_cgroup(const cgroup_dirs& parent, const std::string& leaf) {
  check_name(leaf);
  cgroup_dirs group{parent.version, {}};
  for (const auto& [controller, dir] : parent.by_controller)
    group.by_controller[controller] = dir + "/" + leaf;
  return group;
}

void create_cgroup(const cgroup_dirs& group) {
  for (const auto& [controller, dir] : group.by_controller) {
    const bool cpuset = group.version == cgroup_version::v1 && group.dir_of("cpuset") == dir;
    make_dir(dir, group.version, cpuset);
    if (group.version == cgroup_version::v2) delegate_v2(fs::path(dir).parent_path().string());
  }
}

void apply_limits(const cgroup_dirs& group, const resource_limits& limits) {
  if (group.version == cgroup_version::v1) apply_v1(group, limits);
  if (group.version == cgroup_version::v2) apply_v2(group.dir_of(""), limits);
}

std::uint64_t cpu_weight_from_shares(std::uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp<std::uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::vector<std::string> procs_files(const cgroup_dirs& group) {
  std::vector<std::string> files;
  for (const auto& dir : group.unique_dirs()) files.push_back(dir + "/cgroup.procs");
  return files;
}

void place_pid(const cgroup_dirs& group, pid_t pid) {
  for (const auto& file : procs_files(group)) write_file(file, std::to_string(pid));
}

std::uint64_t oom_kill_count(const cgroup_dirs& group) {
  const auto dir = group.dir_of("memory");
  if (dir.empty()) return 0;
  const char* file = group.version == cgroup_version::v2 ? "/memory.events" : "/memory.oom_control";
  std::istringstream in(read_small_file(dir + file).value_or(""));
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value)
    if (key == "oom_kill") return value;
  return 0;
}

std::vector<pid_t> cgroup_pids(const cgroup_dirs& group) {
  std::set<pid_t> pids;
  for (const auto& dir : group.unique_dirs()) collect_pids(dir, pids);
  return {pids.begin(), pids.end()};
}

std::vector<std::string> remove_cgroup(const cgroup_dirs& group,
                                       std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (true) {
    const auto pids = cgroup_pids(group);
    if (pids.empty() || std::chrono::steady_clock::now() >= deadline) break;
    const auto kill_file = group.dir_of("") + "/cgroup.kill";
    if (group.version == cgroup_version::v2 && ::access(kill_file.c_str(), F_OK) == 0) {
      write_file(kill_file, "1");
    } else {
      for (auto pid : pids) kill_member(pid, group);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  while (true) {
    std::vector<std::string> left;
    for (const auto& dir : group.unique_dirs()) remove_tree(dir, left);
    // A killed member nobody reaped yet (init reaps a recovered task's
    // processes) keeps its cgroup busy a moment after it left cgroup.procs.
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string encode_cgroup(const cgroup_dirs& group) {
  std::string text = std::string(to_string(group.version)) + "\n";
  for (const auto& [controller, dir] : group.by_controller)
    text += (controller.empty() ? "-" : controller) + "\t" + dir + "\n";
  return text;
}

cgroup_dirs decode_cgroup(const std::string& text) {
  auto lines = split(text, '\n');
  cgroup_dirs group;
  if (lines.empty()) return group;
  if (lines[0] == "v1") group.version = cgroup_version::v1;
  if (lines[0] == "v2") group.version = cgroup_version::v2;
  if (group.version == cgroup_version::none) throw std::invalid_argument("unknown cgroup record");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto tab = lines[i].find('\t');
    if (tab == std::string::npos) throw std::invalid_argument("malformed cgroup record line");
    auto controller = lines[i].substr(0, tab);
    const auto dir = lines[i].substr(tab + 1);
    if (controller == "-") controller.clear();
    const fs::path path(dir);
    const bool dotted = std::any_of(
        path.begin(), path.end(), [](const fs::path& part) { return part == "." || part == ".."; });
    if (!path.is_absolute() || dotted || !is_cgroup_fs(dir))
      throw std::invalid_argument("cgroup record names " + dir + ", not a cgroup");
    group.by_controller[controller] = dir;
  }
  return group;
}

}  // namespace nomad_iis::iis
