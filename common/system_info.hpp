#pragma once
// Facts about the machine needed to report CPU usage in Nomad's units, and
// the kernel settings the plugin's isolation relies on.

#include <cstdint>
#include <string>
#include <vector>

namespace nomad_iis::system_info {

/// Clock ticks per second (sysconf(_SC_CLK_TCK)), the unit of /proc CPU times.
std::int64_t clock_ticks_per_second();

/// When the machine booted, Unix seconds (/proc/stat's btime; 0 when
/// unknown): a process started start_ticks / clock_ticks_per_second() later.
std::int64_t boot_time();

/// Number of online CPU cores.
std::int64_t cpu_cores();

/// MHz of one core (from /proc/cpuinfo; 1000 when unknown), used for total_ticks.
double mhz_per_core();

/// The kernel protections a root plugin on a shared node relies on that are
/// off, each with what goes wrong: fs.protected_hardlinks (else an app can
/// hard-link a root-only file into its folder and download it through the
/// Management API). Empty when all are on. `proc_sys` is for tests.
std::vector<std::string> missing_kernel_protections(const std::string& proc_sys = "/proc/sys");

}  // namespace nomad_iis::system_info
