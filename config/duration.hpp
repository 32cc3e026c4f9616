#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace nomad_iis::config {

using duration = std::chrono::milliseconds;

/// Parses the duration forms nomad-iis accepts:
///  - "[Nw][Nd][Nh][Nm][Ns][Nms]" in that order, each part optional, e.g. "1h30m", "500ms", "2w";
///    whitespace between parts is allowed ("1h 30m"), as in the original
///  - .NET "c" TimeSpan form "[d.]hh:mm[:ss[.fffffff]]", e.g. "00:20:00", "1.02:00:00", "04:51"
///    (hh < 24, mm and ss < 60; fractions below a millisecond are dropped)
/// Leading and trailing whitespace is ignored. Returns nullopt for anything else: "", a sign,
/// a bare number ("30": .NET would read days), units out of order, and values above .NET's
/// TimeSpan.MaxValue (about 29,000 years).
std::optional<duration> parse_duration(std::string_view text);

}  // namespace nomad_iis::config
