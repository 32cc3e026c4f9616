// make_linux_backend(): the shared threads, probing nginx, creating and
// recovering sites, and finding sites nobody tracks.

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "iis/linux_backend.hpp"
#include "iis/linux_site.hpp"
#include "iis/process.hpp"
#include "iis/site_core.hpp"
#include "iis/site_layout.hpp"
#include "iis/state_codec.hpp"
#include "iis/unix_users.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t executor_threads = 3;
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
  explicit linux_backend(const config::driver_config& driver) : driver_(driver) {
    raise_fd_limit();
    runtime_ = std::make_shared<backend_runtime>();
    runtime_->runner = std::make_shared<executor>(executor_threads);
    runtime_->monitor = std::make_unique<process_monitor>(runtime_->runner);
  }

  void configure(const config::driver_config& driver) override {
    std::lock_guard lock(mutex_);
    driver_ = driver;
  }

  void probe(std::function<void(backend_info)> done) override {
    std::string nginx_path;
    {
      std::lock_guard lock(mutex_);
      nginx_path = driver_.nginx_path;
    }
    runtime_->runner->post([nginx_path, done = std::move(done)] { done(run_probe(nginx_path)); });
  }

  site_plan plan_site(const config::task_config& config, const task_context& task,
                      const config::driver_config& driver) override {
    return iis::plan_site(config, task, driver);
  }

  std::unique_ptr<site> create_site(site_plan plan,
                                    std::shared_ptr<site_observer> observer) override {
    auto core = std::make_shared<site_core>(runtime_, std::move(plan), std::move(observer));
    return std::make_unique<linux_site>(std::move(core));
  }

  std::unique_ptr<site> recover_site(std::string_view saved_state,
                                     std::shared_ptr<site_observer> observer) override {
    saved_site state = decode_state(saved_state);
    if (state.front.pid <= 0 || !is_alive(state.front)) {
      // Nomad starts such a task anew (its user is made again) or not at all:
      // the pools' own users go unless a process of theirs still runs.
      runtime_->runner->post([plan = state.plan] { remove_pool_users(plan); });
      throw std::runtime_error("site " + state.plan.site_name + ": its front nginx (pid " +
                               std::to_string(state.front.pid) + ") is gone");
    }
    std::error_code error;
    if (!fs::is_directory(state.plan.data_dir, error)) {
      throw std::runtime_error("site " + state.plan.site_name + ": its data directory " +
                               state.plan.data_dir + " is gone");
    }
    {
      // The environment is kept next to the site, not in Nomad's state.
      std::ifstream in(layout::environment_file(state.plan.data_dir), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      if (!bytes.empty()) decode_environment(bytes, state.plan);
    }
    auto core = std::make_shared<site_core>(runtime_, state.plan, std::move(observer));
    core->recover(state);
    return std::make_unique<linux_site>(std::move(core));
  }

  std::vector<dangling_item> list_dangling(const std::vector<std::string>& known) override {
    std::string data_dir;
    {
      std::lock_guard lock(mutex_);
      data_dir = driver_.effective_data_dir();
    }
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
  std::mutex mutex_;
  config::driver_config driver_;
  std::shared_ptr<backend_runtime> runtime_;
};

}  // namespace

std::unique_ptr<backend> make_linux_backend(const config::driver_config& driver) {
  return std::make_unique<linux_backend>(driver);
}

}  // namespace nomad_iis::iis
