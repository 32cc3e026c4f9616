#include "adapters/http/error_status.hpp"

namespace nomad_iis::http {

int http_status(files::file_errc kind) {
  switch (kind) {
    case files::file_errc::bad_request:
      return 400;
    case files::file_errc::forbidden:
      return 403;
    case files::file_errc::not_found:
      return 404;
    case files::file_errc::conflict:
      return 409;
    case files::file_errc::length_required:
      return 411;
    case files::file_errc::too_large:
      return 413;
    case files::file_errc::no_space:
      return 507;
    case files::file_errc::internal:
      return 500;
  }
  return 500;
}

int http_status(inspect::inspect_errc kind) {
  switch (kind) {
    case inspect::inspect_errc::bad_request:
      return 400;
    case inspect::inspect_errc::failed:
      return 502;
    case inspect::inspect_errc::unavailable:
      return 503;
    case inspect::inspect_errc::timeout:
      return 504;
    case inspect::inspect_errc::internal:
      return 500;
    case inspect::inspect_errc::not_found:
      return 404;
    case inspect::inspect_errc::conflict:
      return 409;
  }
  return 500;
}

http_error to_http_error(const files::file_error& e) {
  return http_error(http_status(e.kind()), e.code(), e.what());
}

http_error to_http_error(const inspect::inspect_error& e) {
  return http_error(http_status(e.kind()), e.code(), e.what());
}

}  // namespace nomad_iis::http
