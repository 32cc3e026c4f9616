#pragma once
// Turns a web.config aspNetCore/httpPlatform handler into the command line
// and environment of the application process, the way the IIS modules do:
// the port goes into ASPNETCORE_PORT / HTTP_PLATFORM_PORT and %VAR% is expanded.

#include <cstdint>
#include <string>

#include "iis/model.hpp"
#include "iis/process.hpp"
#include "iis/web_config.hpp"

namespace nomad_iis::iis {

struct app_command {
  spawn_request request;        ///< path, args, env, cwd and (as root) account filled; fds not
  std::string stdout_log_path;  ///< stdoutLogEnabled target; "" = the task's stdout/stderr
};

/// Throws std::runtime_error when processPath cannot be found or run, or
/// when stdoutLogFile points outside `log_root` (the alloc dir).
app_command build_app_command(const process_handler& handler, const application_plan& app,
                              const pool_plan& pool, std::int32_t port,
                              const std::string& log_root);

/// Replaces %NAME% with values from `env` ("NAME=value" entries); unknown names stay.
std::string expand_variables(const std::string& text, const std::vector<std::string>& env);

/// Splits an arguments attribute: whitespace separates, double quotes group.
std::vector<std::string> split_arguments(const std::string& text);

}  // namespace nomad_iis::iis
