#include "iis/socket_keeper.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "iis/proc_file.hpp"
#include "iis/site_files.hpp"

namespace nomad_iis::iis {
namespace {

/// Without nomad_iis_keeper: a plain holder of descriptor 3 (no activation).
constexpr const char* holder_program = "sleep";
constexpr const char* holder_path = "/usr/bin:/bin";

std::optional<process_ref> read_record(const std::string& record_path) {
  const auto text = read_small_file(record_path);
  if (!text) return std::nullopt;
  process_ref ref;
  unsigned long long start = 0;
  if (std::sscanf(text->c_str(), "%d %llu", &ref.pid, &start) != 2 || ref.pid <= 0) {
    return std::nullopt;
  }
  ref.start_ticks = start;
  return ref;
}

std::optional<std::string> keeper_program() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return std::nullopt;
  for (const auto& candidate : {self.parent_path() / "nomad_iis.d" / "nomad_iis_keeper",
                                self.parent_path() / "nomad_iis_keeper"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

}  // namespace

process_ref start_keeper(int socket_fd, const keeper_spec& spec) {
  spawn_request request;
  request.inherit_fds = {socket_fd};
  if (const auto keeper = keeper_program()) {
    request.path = *keeper;
    request.args = {spec.title,       spec.lock_path,   spec.activate_pid_file,
                    spec.stdout_path, spec.stderr_path, "--"};
    if (spec.activate) {
      request.args.push_back(spec.activate->path);
      request.args.insert(request.args.end(), spec.activate->args.begin() + 1,
                          spec.activate->args.end());
      request.env = spec.activate->env;
      request.cwd = spec.activate->cwd;
      // The pool's nginx it may become counts against the pool's cgroup.
      request.cgroup_procs = spec.activate->cgroup_procs;
    }
  } else {
    const auto sleep = find_executable(holder_program, "/", holder_path, std::nullopt);
    if (!sleep) throw std::runtime_error("neither nomad_iis.d/nomad_iis_keeper nor sleep found");
    request.path = *sleep;
    request.args = {spec.title, "infinity"};
  }
  const auto keeper = spawn_process(request);
  try {
    write_file_atomic(spec.record_path,
                      std::to_string(keeper.pid) + " " + std::to_string(keeper.start_ticks) + "\n");
  } catch (...) {
    send_signal(keeper, SIGKILL);
    throw;
  }
  return keeper;
}

unique_fd hold_site_lock(const std::string& lock_path) {
  unique_fd fd(::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) throw std::runtime_error("open " + lock_path + ": " + std::strerror(errno));
  // A keeper takes it exclusively for an instant only: waiting is short.
  while (::flock(fd.get(), LOCK_SH) != 0) {
    if (errno != EINTR)
      throw std::runtime_error("flock " + lock_path + ": " + std::strerror(errno));
  }
  return fd;
}

std::optional<process_ref> recorded_keeper(const std::string& record_path) {
  auto keeper = read_record(record_path);
  if (keeper && !is_alive(*keeper)) keeper.reset();
  return keeper;
}

std::optional<kept_socket> take_back_socket(const std::string& record_path) {
  const auto keeper = read_record(record_path);
  if (!keeper) return std::nullopt;
  const auto pidfd = open_pidfd(*keeper);
  if (!pidfd || !is_alive(*keeper)) return std::nullopt;  // not a zombie either
  unique_fd socket = copy_fd_of(pidfd, 3);
  if (!socket) return std::nullopt;
  // The keeper may have become the pool's nginx: make sure 3 is still a listener.
  int listening = 0;
  socklen_t size = sizeof listening;
  if (::getsockopt(socket.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening) {
    return std::nullopt;
  }
  return kept_socket{std::move(socket), *keeper};
}

void stop_keeper(const std::string& record_path) {
  if (const auto keeper = read_record(record_path)) send_signal(*keeper, SIGKILL);
  ::unlink(record_path.c_str());
}

}  // namespace nomad_iis::iis
