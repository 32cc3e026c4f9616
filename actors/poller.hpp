#pragma once
// Checks something again and again on an actor's own clock until it holds
// or a deadline passes: waiting for a port to accept, for nginx to fork its
// workers, for processes to be gone. No thread of its own; virtual time in
// the actor tests. The owning actor routes (atom::poll, id) to tick().

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include <caf/actor_clock.hpp>

#include "messages/type_ids.hpp"

namespace nomad_iis {

class poller {
 public:
  using time_point = caf::actor_clock::time_point;

  /// Calls `next(true)` once `check()` holds, `next(false)` at `deadline`.
  /// Checks at once, 1, 2, 4... ms after the start while that is sooner than
  /// `interval`, then every `interval` from the start: what holds soon (a
  /// worker forked, a port accepting) is seen soon, what takes long is not
  /// checked more often than asked.
  template <class Self>
  void start(Self* self, std::function<bool()> check, time_point deadline,
             std::chrono::milliseconds interval, std::function<void(bool)> next) {
    const auto id = ++next_id_;
    entries_.emplace(id, entry{std::move(check), self->clock().now(), deadline,
                               std::max(interval, first_check), first_check, std::move(next)});
    tick(self, id);
  }

  template <class Self>
  void tick(Self* self, std::uint64_t id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    const bool held = it->second.check();
    if (held || self->clock().now() >= it->second.deadline) {
      auto next = std::move(it->second.next);
      entries_.erase(it);
      next(held);
      return;
    }
    auto& wait = it->second;
    const auto now = self->clock().now();
    while (wait.since + wait.after <= now) wait.after = following(wait.after, wait.interval);
    self->delayed_send(self, wait.since + wait.after - now, atom::poll_v, id);
  }

  /// Drops every wait without calling it (the actor gives up its processes).
  void clear() { entries_.clear(); }

 private:
  static constexpr std::chrono::milliseconds first_check{1};

  /// The check after one `after` the start: doubling up to `interval`, then every `interval`.
  static std::chrono::milliseconds following(std::chrono::milliseconds after,
                                             std::chrono::milliseconds interval) {
    return after < interval ? std::min(after * 2, interval) : after + interval;
  }

  struct entry {
    std::function<bool()> check;
    time_point since;
    time_point deadline;
    std::chrono::milliseconds interval;
    std::chrono::milliseconds after;  ///< the next check, from `since`
    std::function<void(bool)> next;
  };
  std::map<std::uint64_t, entry> entries_;
  std::uint64_t next_id_ = 0;
};

}  // namespace nomad_iis
