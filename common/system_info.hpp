#pragma once
// Facts about the machine needed to report CPU usage in Nomad's units.

#include <cstdint>

namespace nomad_iis::system_info {

/// Clock ticks per second (sysconf(_SC_CLK_TCK)), the unit of /proc CPU times.
std::int64_t clock_ticks_per_second();

/// Number of online CPU cores.
std::int64_t cpu_cores();

/// MHz of one core (from /proc/cpuinfo; 1000 when unknown), used for total_ticks.
double mhz_per_core();

}  // namespace nomad_iis::system_info
