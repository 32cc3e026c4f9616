#include "iis/front_status.hpp"

#include <charconv>
#include <vector>

namespace nomad_iis::iis {
namespace {

template <class T>
bool number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    const auto space = line.find(' ');
    out.push_back(line.substr(0, space));
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  return out;
}

/// The number after `label` in `text` ("Reading: 0 Writing: 1 Waiting: 2").
std::optional<std::uint64_t> after(std::string_view text, std::string_view label) {
  const auto at = text.find(label);
  if (at == std::string_view::npos) return std::nullopt;
  auto rest = text.substr(at + label.size());
  const auto end = rest.find_first_not_of("0123456789");
  std::uint64_t value = 0;
  if (!number(rest.substr(0, end), value)) return std::nullopt;
  return value;
}

/// Milliseconds of "1733516000.123" as seconds.
bool seconds(std::string_view text, double& out) {
  const auto dot = text.find('.');
  std::uint64_t whole = 0, millis = 0;
  if (dot == std::string_view::npos || !number(text.substr(0, dot), whole) ||
      !number(text.substr(dot + 1), millis))
    return false;
  out = static_cast<double>(whole) + static_cast<double>(millis) / 1000.0;
  return true;
}

void track_line(std::string_view line, open_requests& state) {
  const auto f = fields_of(line);
  if (f.size() < 4) return;
  std::tuple<std::int32_t, std::uint64_t, std::uint64_t> key;
  if (!number(f[1], std::get<0>(key)) || !number(f[2], std::get<1>(key)) ||
      !number(f[3], std::get<2>(key)))
    return;
  if (f[0] == "e" && f.size() == 4) {
    state.open.erase(key);
    return;
  }
  if (f[0] != "s" || f.size() != 9) return;
  open_request r;
  r.worker = std::get<0>(key);
  if (!seconds(f[4], r.started) || !number(f[8], r.pool)) return;
  r.client = std::string(f[5]);
  r.method = std::string(f[6]);
  r.path = std::string(f[7].substr(0, f[7].find('?')));
  state.open[key] = std::move(r);
}

}  // namespace

std::optional<connection_counts> parse_stub_status(std::string_view text) {
  const auto reading = after(text, "Reading: ");
  const auto writing = after(text, "Writing: ");
  const auto waiting = after(text, "Waiting: ");
  const auto active = after(text, "Active connections: ");
  if (!reading || !writing || !waiting || !active || text.find("Active connections: ") != 0)
    return std::nullopt;
  return connection_counts{*reading, *writing > 0 ? *writing - 1 : 0, *waiting,
                           *active > 0 ? *active - 1 : 0};
}

std::size_t track_requests(std::string_view text, open_requests& state) {
  std::size_t used = 0;
  while (used < text.size()) {
    const auto end = text.find('\n', used);
    if (end == std::string_view::npos) break;
    track_line(text.substr(used, end - used), state);
    used = end + 1;
  }
  return used;
}

}  // namespace nomad_iis::iis
