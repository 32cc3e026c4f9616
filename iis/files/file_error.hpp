#pragma once
// Why an operation on a task's files was refused or failed. The files module
// knows nothing of HTTP; the Management API maps the kind onto a status and
// shows the code ("bad_path") and the message as they are.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace nomad_iis::files {

enum class file_errc : std::uint8_t {
  bad_request = 1,  ///< the request or the archive is malformed or refused (400)
  forbidden,        ///< a guarded folder (secrets/, private/) (403)
  not_found,        ///< nothing at the path (404)
  conflict,         ///< the tree is not as the operation needs it (409)
  length_required,  ///< the size of a body must be known up front (411)
  too_large,        ///< past a limit: upload size, entries, bytes (413)
  no_space,         ///< writing the staged content failed (507)
  internal,         ///< anything else (500)
};

/// "bad_request"
const char* to_string(file_errc kind);

/// A failure as it travels in a message.
struct file_failure {
  file_errc kind = file_errc::internal;
  std::string code;     ///< stable, machine-readable ("type_changed")
  std::string message;  ///< for people; never holds a secret
};

/// What the files module throws.
class file_error : public std::runtime_error {
 public:
  file_error(file_errc kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  file_errc kind() const { return kind_; }
  const std::string& code() const { return code_; }
  file_failure failure() const { return {kind_, code_, what()}; }

 private:
  file_errc kind_;
  std::string code_;
};

inline file_error bad_request(const std::string& code, const std::string& message) {
  return file_error(file_errc::bad_request, code, message);
}
inline file_error forbidden(const std::string& message) {
  return file_error(file_errc::forbidden, "forbidden", message);
}
inline file_error not_found(const std::string& message) {
  return file_error(file_errc::not_found, "not_found", message);
}
inline file_error conflict(const std::string& code, const std::string& message) {
  return file_error(file_errc::conflict, code, message);
}
inline file_error too_large(const std::string& code, const std::string& message) {
  return file_error(file_errc::too_large, code, message);
}
inline file_error internal_error(const std::string& code, const std::string& message) {
  return file_error(file_errc::internal, code, message);
}

}  // namespace nomad_iis::files
