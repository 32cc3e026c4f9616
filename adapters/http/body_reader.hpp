#pragma once
// Reads a request body for uploads. A body with a Content-Length is read
// straight from the connection's socket in large blocks once Poco parsed the
// request (its own body stream reads 4 KiB at a time, which made receiving
// the slowest part of an upload); anything else goes through Poco's stream.

#include <cstddef>
#include <functional>

namespace Poco::Net {
class HTTPServerRequest;
}

namespace nomad_iis::http {

/// Fills up to `n` bytes; returns 0 at the end of the body (or when the
/// peer closed early: the caller compares with the Content-Length).
using body_reader = std::function<std::size_t(char* buffer, std::size_t n)>;

body_reader make_body_reader(Poco::Net::HTTPServerRequest& request);

}  // namespace nomad_iis::http
