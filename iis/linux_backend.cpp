// make_linux_backend(): probing nginx, the process port, and finding sites
// nobody tracks.

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "iis/cgroup.hpp"
#include "iis/linux_backend.hpp"
#include "iis/process.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

constexpr auto probe_limit = std::chrono::seconds(5);

/// Each site holds a few pidfds; lift the soft descriptor limit to the hard one.
void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/// Runs `<nginx> -v` and reads its output ("nginx version: nginx/1.22.1").
backend_info run_probe(const std::string& nginx_path) {
  backend_info info;
  spawn_request request;
  request.path = nginx_path;
  request.args = {nginx_path, "-v"};
  request.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  run_result run;
  try {
    run = run_to_end(request, probe_limit);
  } catch (const std::exception& e) {
    info.reason = std::string("cannot run nginx: ") + e.what();
    return info;
  }
  if (run.timed_out) {
    info.reason = nginx_path + " -v did not finish within 5s";
    return info;
  }
  const auto& output = run.output;
  const auto marker = output.find("nginx/");
  if (!run.status.known || run.status.signal != 0 || run.status.code != 0 ||
      marker == std::string::npos) {
    info.reason = nginx_path + " -v failed: " + (output.empty() ? "no output" : output);
    while (!info.reason.empty() && info.reason.back() == '\n') info.reason.pop_back();
    return info;
  }
  auto end = output.find_first_of(" \r\n", marker);
  info.version = output.substr(marker, end == std::string::npos ? std::string::npos : end - marker);
  info.healthy = true;
  return info;
}

/// PIDs in a pid file that still name a live process of the right kind:
/// nginx pid files hold "pid", ours "pid start_ticks".
std::vector<std::int32_t> live_pids(const fs::path& run_dir) {
  std::vector<std::int32_t> pids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(run_dir, error)) {
    if (entry.path().extension() != ".pid") continue;
    std::ifstream in(entry.path());
    std::int64_t pid = 0;
    std::uint64_t start = 0;
    if (!(in >> pid) || pid <= 0) continue;
    const bool has_start = static_cast<bool>(in >> start);
    const process_ref ref{
        static_cast<std::int32_t>(pid),
        has_start ? start : read_start_ticks(static_cast<pid_t>(pid)).value_or(0)};
    if (!is_alive(ref)) continue;
    if (!has_start) {
      if (command_line(static_cast<pid_t>(pid)).find("nginx") == std::string::npos) continue;
    }
    pids.push_back(ref.pid);
  }
  return pids;
}

class linux_backend final : public backend {
 public:
  linux_backend()
      : launcher_(make_linux_launcher()),
        host_(make_linux_site_host()),
        cgroups_(usable_cgroups()) {
    raise_fd_limit();
  }

  backend_info probe(const std::string& nginx_path) override {
    auto info = run_probe(nginx_path);
    info.cgroup_version = to_string(cgroups_.version);
    info.cgroup_mountpoint = cgroups_.mountpoint;
    return info;
  }

  std::shared_ptr<launcher> processes() override { return launcher_; }
  std::shared_ptr<site_host> host() override { return host_; }

  site_plan plan_site(const config::task_config& config, const task_context& task,
                      const config::driver_config& driver) override {
    auto plan = iis::plan_site(config, task, driver);
    if (cgroups_.version == cgroup_version::none) {
      plan.cgroup_unavailable = cgroups_.reason;
    } else {
      plan.cgroup = task_cgroup(cgroups_, plan.site_name);
    }
    return plan;
  }

  std::vector<dangling_item> list_dangling(const std::string& data_dir,
                                           const std::vector<std::string>& known) override {
    const std::set<std::string> known_set(known.begin(), known.end());
    std::vector<dangling_item> items;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(fs::path(data_dir) / "sites", error)) {
      if (!entry.is_directory(error)) continue;
      const std::string name = entry.path().filename().string();
      if (known_set.count(name) || known_set.count(entry.path().string())) continue;
      dangling_item item;
      item.site_name = name;
      item.data_dir = entry.path().string();
      item.pids = live_pids(entry.path() / "run");
      items.push_back(std::move(item));
    }
    return items;
  }

 private:
  std::shared_ptr<launcher> launcher_;
  std::shared_ptr<site_host> host_;
  /// Probed once: where the sites' cgroups go (cgroup.hpp).
  cgroup_system cgroups_;
};

}  // namespace

std::unique_ptr<backend> make_linux_backend() {
  return std::make_unique<linux_backend>();
}

}  // namespace nomad_iis::iis
