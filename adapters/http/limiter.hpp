#pragma once
// A counting gate for expensive operations (browsers, dumps): callers queue
// until a slot is free or their wait times out. The limit is read at each
// acquire, so a new driver config takes effect without a restart.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace nomad_iis::http {

class limiter {
 public:
  /// Takes a slot when fewer than `limit` are in use, waiting up to `wait`.
  bool acquire(std::int64_t limit, std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (limit < 1) limit = 1;
    if (!cv_.wait_for(lock, wait, [&] { return in_use_ < limit; })) return false;
    ++in_use_;
    return true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --in_use_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::int64_t in_use_ = 0;
};

/// Holds one slot of a limiter for a scope.
class limiter_slot {
 public:
  explicit limiter_slot(limiter& l) : l_(l) {}
  ~limiter_slot() { l_.release(); }
  limiter_slot(const limiter_slot&) = delete;
  limiter_slot& operator=(const limiter_slot&) = delete;

 private:
  limiter& l_;
};

}  // namespace nomad_iis::http
