#pragma once
// Turns cumulative per-process CPU times into Nomad's per-interval
// percentages (100 = one core) and MHz, the way Nomad's executor does.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

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

/// CPU seconds per pool that only grow: what every process used while it
/// was seen, also after it ended. Sampled: what a process used between its
/// last sample and its end is not counted, and a plugin restart starts over
/// (counting the live processes' whole lives again).
class cpu_seconds_counter {
 public:
  explicit cpu_seconds_counter(std::int64_t ticks_per_second);

  /// Adds what each process used since the previous call; the totals by pool.
  const std::map<std::string, double>& update(const iis::usage_sample& sample);
  const std::map<std::string, double>& seconds() const { return seconds_; }

 private:
  double ticks_per_second_;
  std::map<std::int32_t, std::uint64_t> last_;  ///< pid -> user + system ticks
  std::map<std::string, double> seconds_;
};

}  // namespace nomad_iis
