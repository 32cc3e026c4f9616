#include "iis/request_log.hpp"

#include <charconv>
#include <sstream>
#include <stdexcept>

namespace nomad_iis::iis {
namespace {

constexpr std::string_view totals_header = "nomad-iis request totals 1";
/// A worker of a sole static pool's front runs as the pool's user and holds
/// the log: lines naming pools no site has must not grow the totals.
constexpr std::size_t max_counted_pools = 1024;

template <class T>
bool number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

/// The next space-separated field of `line`, consumed.
std::string_view field(std::string_view& line) {
  const auto space = line.find(' ');
  auto out = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return out;
}

bool tally_line(std::string_view line, request_totals& totals) {
  const auto pool_text = field(line);
  const auto status_text = field(line);
  const auto bytes_text = field(line);
  std::int64_t pool = front_requests;
  int status = 0;
  std::uint64_t bytes = 0;
  if (!line.empty() || (pool_text != "-" && (!number(pool_text, pool) || pool < 0)) ||
      !number(status_text, status) || status < 100 || status > 599 || !number(bytes_text, bytes))
    return false;
  if (!totals.pools.count(pool) && totals.pools.size() >= max_counted_pools) return false;
  auto& tally = totals.pools[pool];
  ++tally.by_class[static_cast<std::size_t>(status / 100 - 1)];
  tally.bytes_sent += bytes;
  return true;
}

}  // namespace

std::size_t tally_requests(std::string_view text, request_totals& totals) {
  std::size_t used = 0;
  while (used < text.size()) {
    const auto end = text.find('\n', used);
    if (end == std::string_view::npos) break;
    if (!tally_line(text.substr(used, end - used), totals)) ++totals.malformed;
    used = end + 1;
  }
  return used;
}

std::string encode_request_totals(const request_totals& totals) {
  std::ostringstream out;
  out << totals_header << "\noffset " << totals.offset << "\nmalformed " << totals.malformed
      << "\n";
  for (const auto& [pool, tally] : totals.pools) {
    out << "pool " << pool;
    for (auto count : tally.by_class) out << ' ' << count;
    out << ' ' << tally.bytes_sent << "\n";
  }
  return out.str();
}

request_totals decode_request_totals(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line != totals_header)
    throw std::invalid_argument("not a request totals file");
  request_totals totals;
  std::string key;
  while (in >> key) {
    if (key == "offset") {
      in >> totals.offset;
    } else if (key == "malformed") {
      in >> totals.malformed;
    } else if (key == "pool") {
      std::int64_t pool = 0;
      request_tally tally;
      in >> pool;
      for (auto& count : tally.by_class) in >> count;
      in >> tally.bytes_sent;
      totals.pools[pool] = tally;
    } else {
      throw std::invalid_argument("request totals: unknown entry " + key);
    }
    if (!in) throw std::invalid_argument("request totals: a truncated " + key + " entry");
  }
  return totals;
}

}  // namespace nomad_iis::iis
