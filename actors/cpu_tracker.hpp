#pragma once
// Turns cumulative per-process CPU times into Nomad's per-interval
// percentages (100 = one core) and MHz, the way Nomad's executor does.

#include <chrono>
#include <cstdint>
#include <map>

#include "iis/backend.hpp"
#include "messages/messages.hpp"

namespace nomad_iis {

class cpu_tracker {
 public:
  /// `ticks_per_second`: unit of the /proc times; `mhz_per_core`: for total_ticks.
  cpu_tracker(std::int64_t ticks_per_second, double mhz_per_core);

  /// Usage since the previous call (0% on the first). Forgets processes that vanished.
  msg::task_stats update(const iis::usage_sample& sample,
                         std::chrono::steady_clock::time_point now);

 private:
  struct last_times {
    std::uint64_t user = 0;
    std::uint64_t system = 0;
  };
  msg::resource_usage usage_of(const iis::process_usage& p, double elapsed_seconds,
                               const std::map<std::int32_t, last_times>& previous) const;

  std::int64_t ticks_per_second_;
  double mhz_per_core_;
  std::map<std::int32_t, last_times> last_;
  std::chrono::steady_clock::time_point last_at_{};
};

}  // namespace nomad_iis
