#pragma once
// A counting gate for expensive operations (browsers, dumps). Nobody blocks
// on it: a request that finds every slot taken looks again a little later
// (its actor's timer), until its wait is over. The limit is read at each
// try, so a new driver config takes effect without a restart.

#include <atomic>
#include <cstdint>

namespace nomad_iis::http {

class limiter {
 public:
  /// Takes a slot when fewer than `limit` (at least 1) are in use.
  bool try_acquire(std::int64_t limit) {
    if (limit < 1) limit = 1;
    auto used = in_use_.load();
    while (used < limit) {
      if (in_use_.compare_exchange_weak(used, used + 1)) return true;
    }
    return false;
  }
  void release() { --in_use_; }

 private:
  std::atomic<std::int64_t> in_use_{0};
};

}  // namespace nomad_iis::http
