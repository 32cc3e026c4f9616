#pragma once
// Starting, waiting for, identifying and signalling processes: the site's
// nginx and apps, which run in their own session so they outlive the plugin
// (PROTOCOL.md §6.3) and are named by PID + start time so a reused PID is
// never mistaken for them, and the helpers the plugin waits for itself
// (nginx -v, useradd, gcore, Chromium). One fork/exec path serves them all,
// and every process it starts comes with a pidfd.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/model.hpp"
#include "iis/process_types.hpp"

namespace nomad_iis::iis {

/// Looks `name` up; nullopt when there is no such user.
std::optional<unix_account> find_account(const std::string& name);

/// A process we started and wait for ourselves (a helper), held through its
/// pidfd. It stays unreaped until kill_group(), so its PID, which also
/// numbers its process group, cannot be reused meanwhile. Dropping it kills
/// that group and reaps it: no helper outlives its owner, no zombie stays.
class child_process {
 public:
  child_process() = default;
  child_process(process_ref ref, unique_fd pidfd);
  ~child_process();
  child_process(child_process&& other) noexcept = default;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  const process_ref& ref() const { return ref_; }
  int pidfd() const { return pidfd_.get(); }

  /// How it ended once it has; nullopt when `deadline` passes first. Sleeps
  /// in poll() on the pidfd, so the exit itself wakes it. Does not reap.
  std::optional<exit_status> wait_until(std::chrono::steady_clock::time_point deadline);
  /// Waits as long as it runs.
  exit_status wait();
  /// `signal` to exactly this process (pidfd_send_signal); false once it is gone.
  bool signal(int signal);
  /// SIGKILL to its process group (it and whatever it started there), then
  /// reaps it; how it ended (as wait_until saw it, or by the kill).
  exit_status kill_group();
  /// Lets it run on unowned: whoever watches it (process_monitor) reaps it.
  process_ref release();

 private:
  process_ref ref_;
  unique_fd pidfd_;  ///< empty once reaped or released
  std::optional<exit_status> exited_;
};

/// Starts the process in a new session with stdin on the request's stdin_fd (or /dev/null) and no
/// other inherited descriptors than `inherit_fds`. Throws std::runtime_error naming the cause when
/// fork or exec fails ("exec /x/y: No such file or directory").
child_process spawn_child(const spawn_request& request);

/// spawn_child for processes that outlive the call (the site's nginx and
/// apps): they run on, named by PID + start time, for process_monitor to reap.
process_ref spawn_process(const spawn_request& request);

/// What run_to_end saw.
struct run_result {
  exit_status status;      ///< how it ended (SIGKILL after a timeout)
  bool timed_out = false;  ///< it was still running at the time limit
  std::string output;      ///< the end of what it wrote to stdout and stderr
};

/// Runs `request` with stdout and stderr into one pipe (the request's
/// stdout_fd and stderr_fd are not used) until it exits or `timeout`
/// passes, then kills its process group either way (whatever it left running
/// goes too) and reaps it. Keeps the last `output_limit` bytes of output.
/// Throws as spawn_child.
run_result run_to_end(spawn_request request, std::chrono::milliseconds timeout,
                      std::size_t output_limit = 64 * 1024);

/// Reaps the ended process behind `pidfd` if it is our child (without
/// blocking); unknown when it is not, or when it still runs.
exit_status reap_exited(int pidfd);

/// `program` as exec will run it: names with a '/' resolve against `cwd`,
/// bare names search `path_env` (a PATH value). With `as`, only candidates
/// that account may reach and execute count (root may see a PATH entry such
/// as /root/.pyenv/shims that the pool's user cannot use). nullopt when
/// nothing executable is found.
std::optional<std::string> find_executable(const std::string& program, const std::string& cwd,
                                           const std::string& path_env,
                                           const std::optional<unix_account>& as = std::nullopt);

/// Field 22 of /proc/<pid>/stat, nullopt when the PID does not exist.
std::optional<std::uint64_t> read_start_ticks(pid_t pid);

/// The process still runs (not a zombie) and is the one `ref` names.
bool is_alive(const process_ref& ref);

/// Sends `signal` to exactly the process `ref` names (pidfd, so a reused PID
/// is never hit). False when it is gone.
bool send_signal(const process_ref& ref, int signal);

/// /proc/<pid>/cmdline with NULs as spaces ("" when gone). nginx shows its
/// state there ("nginx: worker process is shutting down").
std::string command_line(pid_t pid);

/// Live members of process group `group` whose working folder is `cwd`
/// (every site process leads a group; nginx workers stay in it after their
/// master died). The folder tells them from a newcomer that reused the
/// number once the group was gone. Walks /proc: not for an actor's thread.
std::vector<process_ref> group_members(pid_t group, const std::string& cwd);

/// Live children of `parent` (nginx workers of a master).
std::vector<process_ref> children_of(const process_ref& parent);

/// Makes `fd` close-on-exec; used for every descriptor the backend opens.
void set_cloexec(int fd);

/// A pidfd for exactly the process `ref` names (it pins the process, so a
/// reused PID is never hit); empty when it is gone.
unique_fd open_pidfd(const process_ref& ref);

/// A close-on-exec copy of descriptor `fd` of the process behind `pidfd`
/// (pidfd_getfd: ptrace rights on it); empty when it cannot be had.
unique_fd copy_fd_of(const unique_fd& pidfd, int fd);

}  // namespace nomad_iis::iis
