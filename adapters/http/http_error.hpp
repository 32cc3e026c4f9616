#pragma once
// The one exception type the Management API's code throws for a request
// that cannot be served; the handler turns it into a JSON error response.

#include <stdexcept>
#include <string>

namespace nomad_iis::http {

/// An HTTP error with a stable machine-readable code ("bad_path") and a
/// human-readable message (never containing a secret).
class http_error : public std::runtime_error {
 public:
  http_error(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

inline http_error bad_request(const std::string& code, const std::string& message) {
  return http_error(400, code, message);
}
inline http_error forbidden(const std::string& message) {
  return http_error(403, "forbidden", message);
}
inline http_error not_found(const std::string& message) {
  return http_error(404, "not_found", message);
}
inline http_error conflict(const std::string& code, const std::string& message) {
  return http_error(409, code, message);
}

}  // namespace nomad_iis::http
