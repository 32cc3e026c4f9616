#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace nomad_iis::config {

using duration = std::chrono::milliseconds;

/// Parses the duration forms nomad-iis accepts:
///  - "[Nw][Nd][Nh][Nm][Ns][Nms]" in that order, each part optional, e.g. "1h30m", "500ms", "2w"
///  - .NET "c" TimeSpan form "[d.]hh:mm:ss[.fffffff]", e.g. "00:20:00", "1.02:00:00"
/// Returns nullopt for anything else (including "", negative and overflowing values).
std::optional<duration> parse_duration(std::string_view text);

}  // namespace nomad_iis::config
