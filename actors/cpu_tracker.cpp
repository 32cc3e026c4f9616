#include "actors/cpu_tracker.hpp"

#include <caf/timestamp.hpp>

namespace nomad_iis {

cpu_tracker::cpu_tracker(std::int64_t ticks_per_second, double mhz_per_core)
    : ticks_per_second_(ticks_per_second > 0 ? ticks_per_second : 100),
      mhz_per_core_(mhz_per_core) {}

msg::resource_usage cpu_tracker::usage_of(
    const iis::process_usage& p, double elapsed_seconds,
    const std::map<std::int32_t, last_times>& previous) const {
  msg::resource_usage u;
  u.rss_bytes = p.rss_bytes;
  auto it = previous.find(p.pid);
  if (it == previous.end() || elapsed_seconds <= 0) return u;
  auto delta = [](std::uint64_t now, std::uint64_t before) {
    return now >= before ? static_cast<double>(now - before) : 0.0;
  };
  double scale = 100.0 / (static_cast<double>(ticks_per_second_) * elapsed_seconds);
  u.user_percent = delta(p.user_ticks, it->second.user) * scale;
  u.system_percent = delta(p.system_ticks, it->second.system) * scale;
  u.percent = u.user_percent + u.system_percent;
  u.total_ticks = u.percent / 100.0 * mhz_per_core_;
  return u;
}

msg::task_stats cpu_tracker::update(const iis::usage_sample& sample,
                                    std::chrono::steady_clock::time_point now) {
  double elapsed = last_at_ == std::chrono::steady_clock::time_point{}
                       ? 0.0
                       : std::chrono::duration<double>(now - last_at_).count();
  msg::task_stats stats;
  stats.timestamp = caf::make_timestamp();
  std::map<std::int32_t, last_times> next;
  for (const auto& [pool, processes] : sample.by_pool) {
    msg::resource_usage pool_total;
    for (const auto& p : processes) {
      auto u = usage_of(p, elapsed, last_);
      next[p.pid] = {p.user_ticks, p.system_ticks};
      for (auto* sum : {&pool_total, &stats.total}) {
        sum->user_percent += u.user_percent;
        sum->system_percent += u.system_percent;
        sum->percent += u.percent;
        sum->total_ticks += u.total_ticks;
        sum->rss_bytes += u.rss_bytes;
      }
      stats.by_pid[p.pid] = u;
    }
    stats.by_pool[pool] = pool_total;
  }
  last_ = std::move(next);
  last_at_ = now;
  return stats;
}

cpu_seconds_counter::cpu_seconds_counter(std::int64_t ticks_per_second)
    : ticks_per_second_(static_cast<double>(ticks_per_second > 0 ? ticks_per_second : 100)) {}

const std::map<std::string, double>& cpu_seconds_counter::update(const iis::usage_sample& sample) {
  std::map<std::int32_t, std::uint64_t> next;
  for (const auto& [pool, processes] : sample.by_pool) {
    auto& seconds = seconds_[pool];
    for (const auto& p : processes) {
      const auto ticks = p.user_ticks + p.system_ticks;
      auto it = last_.find(p.pid);
      // A pid seen with more ticks before is a new process under an old pid.
      const auto before = it != last_.end() && it->second <= ticks ? it->second : 0;
      seconds += static_cast<double>(ticks - before) / ticks_per_second_;
      next[p.pid] = ticks;
    }
  }
  last_ = std::move(next);
  return seconds_;
}

}  // namespace nomad_iis
