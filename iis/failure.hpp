#pragma once
// Why a backend operation failed. The backend knows (a port taken, a process
// that died, a web.config it cannot serve); the actors map the code onto the
// driver's errors (messages/error.hpp) and never parse the text.

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

namespace nomad_iis::iis {

enum class errc : std::uint8_t {
  /// The job asks for what this host cannot serve: a web.config, certificate,
  /// processPath or Unix user that is wrong. A retry fails the same way.
  invalid_config = 1,
  /// A binding's address is taken by another process.
  port_in_use,
  /// A process of the site could not be spawned, exited during its start, or
  /// did not accept connections within its start time limit.
  process_failed,
  /// A file, folder, socket, FIFO or Unix account could not be made or opened.
  io_failure,
  /// What the operation names does not exist: an application pool, or the
  /// site itself once destroyed.
  not_found,
};

/// "port_in_use"
const char* to_string(errc code);

struct failure {
  errc code = errc::io_failure;
  std::string message;  ///< for people, shown as it is
};

/// Thrown by the backend's synchronous steps. Code that adds context to a
/// message ("application /app/: " + what()) keeps the code with code_of().
class backend_error : public std::runtime_error {
 public:
  backend_error(errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  errc code() const { return code_; }

 private:
  errc code_;
};

/// The code `e` carries when it is a backend_error, else `otherwise`.
errc code_of(const std::exception& e, errc otherwise);

/// `e` as a failure: its code (or `otherwise`) and its text.
failure failure_of(const std::exception& e, errc otherwise);

}  // namespace nomad_iis::iis
