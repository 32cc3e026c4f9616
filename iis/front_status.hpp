#pragma once
// What the site's front says about its connections and requests, parsed:
// nginx's stub_status page (connections by state) and the open-requests log,
// where the front writes a start line when a request reaches a pool and an
// end line when it is done ("s <worker> <connection> <n> <msec> <client>
// <method> <uri> <pool>" / "e <worker> <connection> <n>"; <worker> is the
// nginx worker's pid, <n> the request's number on its connection). Pure
// code: the reading is the backend's (site_host::read_front_status).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace nomad_iis::iis {

/// The front's client connections by state (stub_status), without the
/// connection that asked.
struct connection_counts {
  std::uint64_t reading = 0;  ///< reading a request head
  std::uint64_t writing = 0;  ///< a request in progress (reading its body, waiting, answering)
  std::uint64_t waiting = 0;  ///< idle keep-alive connections
  /// Every open client connection: also those accepted and not yet counted
  /// as one of the above (nginx counts them in none for a moment).
  std::uint64_t active = 0;
};

/// The counts of a stub_status page; nullopt when `text` is not one. The
/// status request itself (one writing connection) is taken off.
std::optional<connection_counts> parse_stub_status(std::string_view text);

/// A request the front began and has not finished.
struct open_request {
  std::int32_t worker = 0;  ///< pid of the front worker serving it
  double started = 0;       ///< Unix time, seconds (millisecond precision)
  std::string client;       ///< the client's address
  std::string method;
  std::string path;  ///< the URI as sent (nginx-escaped), without its query string
  std::size_t pool = 0;
};

/// Requests open in the log read so far; the key is (worker, connection, n).
struct open_requests {
  std::uint64_t offset = 0;  ///< bytes of the log read so far
  std::map<std::tuple<std::int32_t, std::uint64_t, std::uint64_t>, open_request> open;
};

/// Reads the complete lines at the start of `text` into `state` (a start
/// opens a request, an end closes it; anything else is skipped) and returns
/// how many bytes they took; a partial last line is left for later.
std::size_t track_requests(std::string_view text, open_requests& state);

}  // namespace nomad_iis::iis
