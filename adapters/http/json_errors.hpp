#pragma once
// Every 4xx/5xx answer of the Management API is {"error": code, "message": text}.

#include <string>
#include <string_view>

namespace nomad_iis::http {

/// The JSON body of an error response.
std::string error_json(std::string_view code, std::string_view message);

/// A whole HTTP/1.1 error response that closes the connection, for a
/// connection refused before it is served (over its client's limit).
std::string error_response_text(int status, std::string_view code, std::string_view message);

}  // namespace nomad_iis::http
