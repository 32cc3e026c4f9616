#pragma once
// Why a look inside a task (a screenshot of its site, a core dump of a pool's
// worker) failed. Knows nothing of HTTP: the Management API maps the kind
// onto a status and shows the code ("screenshot_timeout") and the message.
// A sibling of files::file_error: these failures are about helper programs
// (Chromium, gcore), not the task's files, and need kinds files never have.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace nomad_iis::inspect {

enum class inspect_errc : std::uint8_t {
  bad_request = 1,  ///< a parameter is refused (400)
  failed,           ///< the helper or the page failed (502)
  unavailable,      ///< the helper is missing or cannot start (503)
  timeout,          ///< the helper did not finish in time (504)
  internal,         ///< anything else (500)
  not_found,        ///< nothing to look at: no binding to open (404)
  conflict,         ///< not now: the pool has no worker to dump (409)
};

/// "timeout"
const char* to_string(inspect_errc kind);

/// A failure as it travels in a message.
struct inspect_failure {
  inspect_errc kind = inspect_errc::internal;
  std::string code;     ///< stable, machine-readable ("screenshot_timeout")
  std::string message;  ///< for people
};

/// What the inspect module throws.
class inspect_error : public std::runtime_error {
 public:
  inspect_error(inspect_errc kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  inspect_errc kind() const { return kind_; }
  const std::string& code() const { return code_; }
  inspect_failure failure() const { return {kind_, code_, what()}; }

 private:
  inspect_errc kind_;
  std::string code_;
};

}  // namespace nomad_iis::inspect
