#include "actors/event_hub.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

void remove(std::vector<caf::actor>& xs, const caf::actor_addr& who) {
  xs.erase(
      std::remove_if(xs.begin(), xs.end(), [&](const caf::actor& x) { return x.address() == who; }),
      xs.end());
}

}  // namespace

caf::behavior event_hub(caf::stateful_actor<event_hub_state>* self) {
  self->set_down_handler([self](const caf::down_msg& down) {
    remove(self->state.subscribers, caf::actor_cast<caf::actor_addr>(down.source));
  });
  return {
      [self](atom::subscribe, caf::actor subscriber) {
        self->monitor(subscriber);
        self->state.subscribers.push_back(std::move(subscriber));
      },
      [self](atom::unsubscribe, const caf::actor& subscriber) {
        remove(self->state.subscribers, subscriber.address());
      },
      [self](const msg::task_event& event) {
        for (const auto& subscriber : self->state.subscribers) self->send(subscriber, event);
      },
  };
}

}  // namespace nomad_iis
