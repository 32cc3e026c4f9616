#pragma once
// CPU time and memory of one process, read from /proc/<pid>/stat and smaps_rollup.

#include <optional>

#include "iis/backend.hpp"

namespace nomad_iis::iis {

/// utime, stime (clock ticks) and RSS of `process`; nullopt when it is gone
/// or its PID now names another process.
std::optional<process_usage> read_usage(const process_ref& process);

/// Private_Clean + Private_Dirty + Swap of /proc/<pid>/smaps_rollup in
/// bytes: what the process alone holds; nullopt when it is gone or its PID
/// now names another process.
std::optional<std::uint64_t> read_private_bytes(const process_ref& process);

}  // namespace nomad_iis::iis
