#pragma once
// What a task puts into TaskHandle.driver_state: everything RecoverTask needs
// after an agent or plugin restart, when Nomad hands back only the handle.

#include <cstdint>
#include <optional>
#include <string>

#include "iis/model.hpp"

namespace nomad_iis {

struct driver_state {
  static constexpr std::int32_t current_version = 1;
  std::int32_t version = current_version;
  iis::task_context task;          ///< identity and paths (env omitted: it may hold secrets)
  std::int64_t started_at_ns = 0;  ///< unix epoch nanoseconds
  std::string site;                ///< the backend's save_state() bytes
};

std::string encode(const driver_state& state);

/// Throws std::runtime_error with a readable reason on malformed bytes.
driver_state decode_driver_state(const std::string& bytes);

}  // namespace nomad_iis
