#pragma once
// Starting, identifying and signalling the processes of a site. Every process
// runs in its own session so it outlives the plugin (PROTOCOL.md §6.3), and is
// named by PID + start time so a reused PID is never mistaken for it.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/model.hpp"

namespace nomad_iis::iis {

/// A Unix account resolved before fork() (getpwnam is not async-signal-safe).
struct unix_account {
  std::string name;
  std::string group;  ///< primary group name
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

/// Looks `name` up; nullopt when there is no such user.
std::optional<unix_account> find_account(const std::string& name);

struct spawn_request {
  std::string path;               ///< absolute executable path (see find_executable)
  std::vector<std::string> args;  ///< argv, argv[0] included
  std::vector<std::string> env;   ///< "NAME=value"
  std::string cwd;
  int stdout_fd = -1;  ///< -1 = /dev/null
  int stderr_fd = -1;  ///< -1 = /dev/null
  /// Switch to this account before exec (only when we are root).
  std::optional<unix_account> account;
  /// Descriptors the child keeps, as 3, 4, ... in this order (a pool's
  /// listening socket handed to nginx through NGINX="3;").
  std::vector<int> inherit_fds;
};

/// Starts the process in a new session with stdin on /dev/null and no other
/// inherited descriptors than `inherit_fds`. Throws std::runtime_error naming the cause when
/// fork or exec fails ("exec /x/y: No such file or directory").
process_ref spawn_process(const spawn_request& request);

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

/// Live children of `parent` (nginx workers of a master).
std::vector<process_ref> children_of(const process_ref& parent);

/// "SIGTERM", "TERM", "term" or "15" → 15; 0 when unknown.
int signal_from_name(std::string_view name);

/// How a process ended, as far as we can know (only our own children give a status).
struct exit_status {
  bool known = false;
  int code = 0;
  int signal = 0;
};

/// "code 1", "signal 9", "status unknown".
std::string describe(const exit_status& status);

/// Makes `fd` close-on-exec; used for every descriptor the backend opens.
void set_cloexec(int fd);

/// A pidfd for exactly the process `ref` names (it pins the process, so a
/// reused PID is never hit); empty when it is gone.
unique_fd open_pidfd(const process_ref& ref);

}  // namespace nomad_iis::iis
