#pragma once
// Checks something again and again on an actor's own clock until it holds
// or a deadline passes: waiting for a port to accept, for nginx to fork its
// workers, for processes to be gone. No thread of its own; virtual time in
// the actor tests. The owning actor routes (atom::poll, id) to tick().

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
  /// Checks at once, then every `interval`.
  template <class Self>
  void start(Self* self, std::function<bool()> check, time_point deadline,
             std::chrono::milliseconds interval, std::function<void(bool)> next) {
    const auto id = ++next_id_;
    entries_.emplace(id, entry{std::move(check), deadline, interval, std::move(next)});
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
    self->delayed_send(self, it->second.interval, atom::poll_v, id);
  }

  /// Drops every wait without calling it (the actor gives up its processes).
  void clear() { entries_.clear(); }

 private:
  struct entry {
    std::function<bool()> check;
    time_point deadline;
    std::chrono::milliseconds interval;
    std::function<void(bool)> next;
  };
  std::map<std::uint64_t, entry> entries_;
  std::uint64_t next_id_ = 0;
};

}  // namespace nomad_iis
