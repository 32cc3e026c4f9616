#pragma once
// Runs a helper program (Chromium, gcore) in its own session with a time
// limit; on timeout the whole process group is killed.

#include <chrono>
#include <string>
#include <vector>

namespace nomad_iis::http {

struct subprocess_result {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;       ///< -1 when killed by a signal or not started
  std::string error;        ///< why it could not start
  std::string stderr_tail;  ///< last part of what it wrote to stderr
};

/// Runs argv[0] (a path) with stdin/stdout on /dev/null and stderr captured
/// to `stderr_file`; `env` replaces the environment when not empty.
subprocess_result run_subprocess(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout, const std::string& stderr_file);

}  // namespace nomad_iis::http
