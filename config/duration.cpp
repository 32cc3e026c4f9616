#include "config/duration.hpp"

#include <cstdint>
#include <limits>

namespace nomad_iis::config {
namespace {

using rep = duration::rep;

/// .NET's TimeSpan.MaxValue in milliseconds: the original cannot hold more,
/// and staying below it keeps later conversions to microseconds safe.
constexpr rep max_millis = 922337203685477;

constexpr rep ms_per_second = 1000;
constexpr rep ms_per_minute = 60 * ms_per_second;
constexpr rep ms_per_hour = 60 * ms_per_minute;
constexpr rep ms_per_day = 24 * ms_per_hour;
constexpr rep ms_per_week = 7 * ms_per_day;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// The whitespace .NET's \s and TimeSpan parsing skip (ASCII only).
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

/// Reads a run of digits at `pos`; nullopt when there is none or it exceeds max_millis.
std::optional<rep> read_number(std::string_view text, std::size_t& pos, std::size_t& digits) {
  rep value = 0;
  digits = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    value = value * 10 + (text[pos] - '0');
    if (value > max_millis) return std::nullopt;
    ++pos;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return value;
}

/// total += count * unit, failing past max_millis.
bool add_scaled(rep& total, rep count, rep unit) {
  if (count > (max_millis - total) / unit) return false;
  total += count * unit;
  return true;
}

/// "[Nw][Nd][Nh][Nm][Ns][Nms]": units strictly in that order, whitespace allowed
/// between parts (the original's pattern allows it), at least one part.
std::optional<duration> parse_unit_form(std::string_view text) {
  // Rank of each unit; a part must have a higher rank than the previous one.
  struct unit {
    std::string_view suffix;
    rep millis;
  };
  static constexpr unit units[] = {{"w", ms_per_week}, {"d", ms_per_day},    {"h", ms_per_hour},
                                   {"ms", 1},          {"m", ms_per_minute}, {"s", ms_per_second}};
  // Order rank (w=0 d=1 h=2 m=3 s=4 ms=5) for the entries of `units`.
  static constexpr int rank_of[] = {0, 1, 2, 5, 3, 4};

  rep total = 0;
  int last_rank = -1;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t digits = 0;
    auto count = read_number(text, pos, digits);
    if (!count) return std::nullopt;
    int matched = -1;
    for (int i = 0; i < 6; ++i) {
      if (text.substr(pos, units[i].suffix.size()) == units[i].suffix) {
        matched = i;
        break;
      }
    }
    if (matched < 0 || rank_of[matched] <= last_rank) return std::nullopt;
    pos += units[matched].suffix.size();
    last_rank = rank_of[matched];
    if (!add_scaled(total, *count, units[matched].millis)) return std::nullopt;
    while (pos < text.size() && is_space(text[pos])) ++pos;
  }
  if (last_rank < 0) return std::nullopt;
  return duration(total);
}

/// .NET "c" form without sign: "[d.]hh:mm[:ss[.fffffff]]". A bare day count
/// ("5"), which .NET also accepts, is refused: it reads too easily as seconds.
std::optional<duration> parse_timespan_form(std::string_view text) {
  std::size_t pos = 0;
  std::size_t digits = 0;
  auto first = read_number(text, pos, digits);
  if (!first || pos >= text.size()) return std::nullopt;

  rep days = 0;
  rep hours = 0;
  if (text[pos] == '.') {
    if (digits > 8) return std::nullopt;
    days = *first;
    ++pos;
    auto h = read_number(text, pos, digits);
    if (!h || digits > 2) return std::nullopt;
    hours = *h;
  } else {
    if (digits > 2) return std::nullopt;
    hours = *first;
  }
  if (hours > 23 || pos >= text.size() || text[pos] != ':') return std::nullopt;
  ++pos;
  auto minutes = read_number(text, pos, digits);
  if (!minutes || digits > 2 || *minutes > 59) return std::nullopt;

  rep seconds = 0;
  rep millis = 0;
  if (pos < text.size()) {
    if (text[pos] != ':') return std::nullopt;
    ++pos;
    auto s = read_number(text, pos, digits);
    if (!s || digits > 2 || *s > 59) return std::nullopt;
    seconds = *s;
    if (pos < text.size()) {
      if (text[pos] != '.') return std::nullopt;
      ++pos;
      // Up to seven fraction digits (100 ns ticks); we keep milliseconds.
      std::size_t start = pos;
      while (pos < text.size() && is_digit(text[pos])) ++pos;
      std::size_t count = pos - start;
      if (count == 0 || count > 7 || pos != text.size()) return std::nullopt;
      for (std::size_t i = 0; i < 3; ++i) {
        millis = millis * 10 + (i < count ? text[start + i] - '0' : 0);
      }
    }
  }

  rep total = 0;
  if (!add_scaled(total, days, ms_per_day) || !add_scaled(total, hours, ms_per_hour) ||
      !add_scaled(total, *minutes, ms_per_minute) || !add_scaled(total, seconds, ms_per_second) ||
      !add_scaled(total, millis, 1)) {
    return std::nullopt;
  }
  return duration(total);
}

}  // namespace

std::optional<duration> parse_duration(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  if (text.find(':') != std::string_view::npos) return parse_timespan_form(text);
  return parse_unit_form(text);
}

}  // namespace nomad_iis::config
