#pragma once
// The Management API's answer to a failure of the task files module or of
// a look inside a task: the kind picks the HTTP status, the code and the
// message are shown as they are ({"error": code, "message": text}).

#include "adapters/http/http_error.hpp"
#include "iis/files/file_error.hpp"
#include "iis/inspect/inspect_error.hpp"

namespace nomad_iis::http {

/// bad_request 400, forbidden 403, not_found 404, conflict 409,
/// length_required 411, too_large 413, no_space 507, internal 500.
int http_status(files::file_errc kind);

/// bad_request 400, failed 502, unavailable 503, timeout 504, internal 500.
int http_status(inspect::inspect_errc kind);

/// The same failure as an http_error.
http_error to_http_error(const files::file_error& e);
http_error to_http_error(const inspect::inspect_error& e);

}  // namespace nomad_iis::http
