#pragma once
// Runs a helper program (Chromium, gcore) in its own session, optionally as
// another user, with a time limit; on timeout or when its owner goes away the
// whole process group is killed.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace nomad_iis::http {

/// The identity a helper runs as (applied only when the plugin is root).
struct run_as {
  uid_t uid = 0;
  gid_t gid = 0;
};

struct subprocess_options {
  std::vector<std::string> argv;  ///< argv[0] is the program's path
  std::vector<std::string> env;   ///< replaces the environment when not empty
  int stderr_fd = -1;             ///< -1 = /dev/null
  std::optional<run_as> user;
  /// Descriptors the child gets as 3, 4, ... in this order (nothing else
  /// beyond stdin/stdout/stderr is inherited).
  std::vector<int> inherit_fds;
};

/// One started helper and its session. The destructor kills the process
/// group (the helper and everything it started) and reaps the helper.
class child_session {
 public:
  /// Starts the helper; started() is false and error() says why when it
  /// could not (no such program, user switch refused...).
  explicit child_session(const subprocess_options& options);
  ~child_session();
  child_session(const child_session&) = delete;
  child_session& operator=(const child_session&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  pid_t pid() const { return pid_; }

  /// Waits until the helper exits or `deadline` passes; true once it exited.
  bool wait_until(std::chrono::steady_clock::time_point deadline);
  /// The exit code once exited normally, -1 when killed by a signal.
  int exit_code() const { return exit_code_; }
  /// SIGKILL to the whole process group, then reaps the helper.
  void kill_group();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  std::string error_;
};

struct subprocess_result {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;       ///< -1 when killed by a signal or not started
  std::string error;        ///< why it could not start
  std::string stderr_tail;  ///< last part of what it wrote to stderr
};

/// Runs argv[0] (a path) as the plugin's user with stdin/stdout on
/// /dev/null and stderr captured to `stderr_file`; `env` replaces the
/// environment when not empty.
subprocess_result run_subprocess(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout, const std::string& stderr_file);

/// The last `max` bytes of what `fd` (a regular file) holds.
std::string file_tail(int fd, std::size_t max = 2000);

}  // namespace nomad_iis::http
