// make_linux_backend(): probing nginx, the process port, and finding sites
// nobody tracks.

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "iis/backend.hpp"
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

/// Runs `<nginx> -v` and reads its stderr ("nginx version: nginx/1.22.1").
backend_info run_probe(const std::string& nginx_path) {
  backend_info info;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    info.reason = std::string("pipe: ") + std::strerror(errno);
    return info;
  }
  unique_fd read_end(fds[0]);
  unique_fd write_end(fds[1]);
  spawn_request request;
  request.path = nginx_path;
  request.args = {nginx_path, "-v"};
  request.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  request.stdout_fd = write_end.get();
  request.stderr_fd = write_end.get();
  process_ref process;
  try {
    process = spawn_process(request);
  } catch (const std::exception& e) {
    info.reason = std::string("cannot run nginx: ") + e.what();
    return info;
  }
  write_end.reset();
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + probe_limit;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    pollfd pfd{read_end.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
    char buffer[512];
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  int status = 0;
  // EOF comes as nginx exits, a moment before it can be waited for.
  pid_t waited = 0;
  while ((waited = ::waitpid(process.pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (waited == 0) {
    ::kill(process.pid, SIGKILL);
    ::waitpid(process.pid, &status, 0);
    info.reason = nginx_path + " -v did not finish within 5s";
    return info;
  }
  const auto marker = output.find("nginx/");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || marker == std::string::npos) {
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
  linux_backend() : launcher_(make_linux_launcher()) { raise_fd_limit(); }

  backend_info probe(const std::string& nginx_path) override { return run_probe(nginx_path); }

  std::shared_ptr<launcher> processes() override { return launcher_; }

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
};

}  // namespace

std::unique_ptr<backend> make_linux_backend() {
  return std::make_unique<linux_backend>();
}

}  // namespace nomad_iis::iis
