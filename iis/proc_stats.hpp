#pragma once
// CPU time and memory of one process, read from /proc/<pid>/stat.

#include <optional>

#include "iis/backend.hpp"

namespace nomad_iis::iis {

/// utime, stime (clock ticks) and RSS of `process`; nullopt when it is gone
/// or its PID now names another process.
std::optional<process_usage> read_usage(const process_ref& process);

}  // namespace nomad_iis::iis
