#pragma once
// A small fixed set of threads shared by every site of the backend: all
// blocking work, timers and callbacks run here, so 200 sites never mean 200
// threads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace nomad_iis::iis {

class executor {
 public:
  using clock = std::chrono::steady_clock;

  explicit executor(std::size_t threads);
  /// Stops the threads; queued work is dropped. Safe to run on one of the
  /// executor's own threads (that thread is detached instead of joined).
  ~executor();
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  /// Runs `fn` soon on one of the threads.
  void post(std::function<void()> fn);

  /// Runs `fn` after `delay`; returns an id for cancel().
  std::uint64_t post_after(clock::duration delay, std::function<void()> fn);

  /// Drops a timer that has not fired yet (no effect once it runs).
  void cancel(std::uint64_t timer_id);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;  ///< shared with the threads so a self-detached thread outlives us
};

}  // namespace nomad_iis::iis
