#pragma once
// Reads the small alert log each nginx of a site writes (see nginx_config):
// why a start failed, and how a worker ended (nginx reaps its own workers,
// so this log is the only place their exit status shows up).

#include <sys/types.h>
#include <string>

namespace nomad_iis::iis {

/// The message of the last [emerg] line ("bind() to 127.0.0.1:80 failed (98:
/// Address already in use)"), or "" when there is none.
std::string last_emergency(const std::string& log_path);

/// "signal 9" or "code 2" from "worker process <pid> exited on signal 9",
/// or "" when the log does not say.
std::string worker_exit_reason(const std::string& log_path, pid_t worker);

/// Empties the log when it grew past `max_bytes`.
void trim_log(const std::string& log_path, long max_bytes = 1 << 20);

}  // namespace nomad_iis::iis
