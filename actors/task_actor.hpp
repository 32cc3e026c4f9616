#pragma once
// One actor per allocation task. It owns the task's site (pools, workers,
// config folder) and serialises every operation on it: Nomad's lifecycle
// RPCs and Management API requests arrive here as messages and run one
// backend operation at a time, so they never race.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/cpu_tracker.hpp"
#include "common/system_info.hpp"
#include "config/driver_config.hpp"
#include "iis/backend.hpp"
#include "messages/management.hpp"
#include "messages/messages.hpp"

namespace nomad_iis {

enum class task_phase { created, starting, running, stopping, exited };

struct task_actor_state {
  iis::task_context task;
  config::driver_config driver;
  std::shared_ptr<iis::backend> backend;
  caf::actor hub;
  std::unique_ptr<iis::site> site;
  task_phase phase = task_phase::created;
  caf::timestamp started_at{};
  caf::timestamp completed_at{};
  msg::exit_result result;
  bool recovered = false;
  /// WaitTask callers; all get the exit result.
  std::vector<caf::response_promise> waiters;
  /// Callers waiting for the site to be handed over (the plugin exits).
  std::vector<caf::response_promise> hand_over_waiters;

  /// Backend operations run one at a time; the rest wait here in order.
  std::deque<std::function<void()>> queued;
  bool busy = false;
  std::uint64_t op_id = 0;
  std::function<void(std::optional<iis::failure>)> continuation;

  cpu_tracker cpu{system_info::clock_ticks_per_second(), system_info::mhz_per_core()};
  /// The Management API samples on its own schedule; a separate tracker keeps
  /// Nomad's per-interval percentages undisturbed.
  cpu_tracker api_cpu{system_info::clock_ticks_per_second(), system_info::mhz_per_core()};

  /// A Management API file change holding the task (see msg::begin_change).
  std::optional<std::uint64_t> lease;
  std::vector<std::string> lease_pools;
  std::uint64_t next_lease = 0;

  /// Told our identity once the site runs, for lookups by alloc and task name.
  caf::actor_addr supervisor;

  static inline const char* name = "task";
};

using task_actor_ptr = caf::stateful_actor<task_actor_state>*;

/// Handles start_task or recover_task first, then the rest of the lifecycle.
caf::behavior task_actor(task_actor_ptr self, std::shared_ptr<iis::backend> backend, caf::actor hub,
                         config::driver_config driver, caf::actor_addr supervisor);

}  // namespace nomad_iis
