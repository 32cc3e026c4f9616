#pragma once
// The front's request log, counted: the front nginx appends one short line
// per finished request ("<pool> <status> <bytes_sent>", pool "-" when the
// front answered itself: a denied path, an unknown host name) to a log in
// the site's data_dir; reading it from the last counted byte gives exact
// totals that survive recycles and plugin restarts (the totals and the
// offset are kept beside the log). Pure code: the reading is the backend's
// (site_host::count_requests).

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace nomad_iis::iis {

/// Requests of one pool (or of the front itself) since the site began.
struct request_tally {
  /// Finished requests by status class: [0] = 1xx ... [4] = 5xx (444, nginx's
  /// "close without answer" of a TcpLevel pool, is a 4xx).
  std::array<std::uint64_t, 5> by_class{};
  std::uint64_t bytes_sent = 0;  ///< headers and body, as nginx's $bytes_sent
};

/// Pool index used for requests the front answered itself.
constexpr std::int64_t front_requests = -1;

struct request_totals {
  std::uint64_t offset = 0;                     ///< bytes of the log counted so far
  std::uint64_t malformed = 0;                  ///< lines that were not "<pool> <status> <bytes>"
  std::map<std::int64_t, request_tally> pools;  ///< pool index (front_requests: the front)
};

/// Counts the complete lines at the start of `text` into `totals` and
/// returns how many bytes they took (a partial last line is left for later).
std::size_t tally_requests(std::string_view text, request_totals& totals);

/// The totals as the small text file kept beside the log, and back; decode
/// throws std::invalid_argument on anything it did not write.
std::string encode_request_totals(const request_totals& totals);
request_totals decode_request_totals(std::string_view text);

}  // namespace nomad_iis::iis
