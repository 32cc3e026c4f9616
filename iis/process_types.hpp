#pragma once
// What the port says about processes: how one is started (spawn_request),
// as whom (unix_account) and how it ended (exit_status). Plain data and two
// pure helpers; iis/process.hpp starts and waits for them on Linux.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nomad_iis::iis {

/// A Unix account resolved before fork() (getpwnam is not async-signal-safe).
struct unix_account {
  std::string name;
  std::string group;  ///< primary group name
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

struct spawn_request {
  std::string path;               ///< absolute executable path (see find_executable)
  std::vector<std::string> args;  ///< argv, argv[0] included
  std::vector<std::string> env;   ///< "NAME=value", the whole environment
  std::string cwd;                ///< entered after the account switch; "" = ours
  int stdin_fd = -1;              ///< -1 = /dev/null
  int stdout_fd = -1;             ///< -1 = /dev/null
  int stderr_fd = -1;             ///< -1 = /dev/null
  /// Switch to this account (its uid, gid and `groups` as the supplementary
  /// groups) before exec; only when we are root.
  std::optional<unix_account> account;
  /// PR_SET_NO_NEW_PRIVS: nothing it runs regains privileges through a
  /// setuid program (the browser, which loads pages an app controls).
  bool no_new_privs = false;
  /// stdin is a terminal (a pty's slave end) that becomes the controlling
  /// terminal of the child's new session (`nomad alloc exec -t`).
  bool controlling_tty = false;
  /// Descriptors the child keeps, as 3, 4, ... in this order (a pool's
  /// listening socket handed to nginx through NGINX="3;", Chromium's
  /// --remote-debugging-pipe ends).
  std::vector<int> inherit_fds;
  /// cgroup.procs files (cgroup.hpp's procs_files) the child joins before
  /// exec, so it and all it forks count against the task's limits from the start.
  std::vector<std::string> cgroup_procs;
};

/// How a process ended, as far as we can know (only our own children give a status).
struct exit_status {
  bool known = false;
  int code = 0;
  int signal = 0;
};

/// "SIGTERM", "TERM", "term" or "15" → 15; 0 when unknown.
int signal_from_name(std::string_view name);

/// "code 1", "signal 9", "status unknown".
std::string describe(const exit_status& status);

}  // namespace nomad_iis::iis
