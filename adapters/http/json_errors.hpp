#pragma once
// Every 4xx/5xx answer of the Management API is {"error": code, "message": text}.

#include <string>
#include <string_view>

namespace Poco::Net {
class HTTPServerResponse;
}

namespace nomad_iis::http {

/// The JSON body of an error response.
std::string error_json(std::string_view code, std::string_view message);

/// Sends an error response (status, JSON body, optional Allow header). Does
/// nothing when the response was already sent (a failure mid-stream can only
/// cut the connection).
void send_error(Poco::Net::HTTPServerResponse& response, int status, std::string_view code,
                std::string_view message, const std::string& allow = {});

/// A whole HTTP/1.1 error response that closes the connection, for code
/// that writes to sockets itself (the reactor).
std::string error_response_text(int status, std::string_view code, std::string_view message);

/// Sends a JSON document with status 200.
void send_json(Poco::Net::HTTPServerResponse& response, const std::string& body, int status = 200);

}  // namespace nomad_iis::http
