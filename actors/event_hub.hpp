#pragma once
// Fans task events out to every subscriber (one per TaskEvents stream).
// Subscribers are monitored and dropped when they go away.

#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

namespace nomad_iis {

struct event_hub_state {
  std::vector<caf::actor> subscribers;
  static inline const char* name = "event_hub";
};

/// Handles (atom::subscribe, actor), (atom::unsubscribe, actor) and msg::task_event.
caf::behavior event_hub(caf::stateful_actor<event_hub_state>* self);

}  // namespace nomad_iis
