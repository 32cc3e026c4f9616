#pragma once
// The front of a task's site: the nginx that holds the task's bindings and
// routes each application to its pool (the pool's socket, or the port of
// its application process). Owned by the task actor; the pool actors ask
// it to reload when their routes change. Reloads run one at a time.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/operation_queue.hpp"
#include "actors/poller.hpp"
#include "actors/site_context.hpp"
#include "common/unique_fd.hpp"
#include "messages/site.hpp"

namespace nomad_iis {

struct front_actor_state {
  site_context ctx;
  iis::process_ref master;
  struct worker {
    iis::process_ref ref;
    bool retiring = false;
  };
  std::map<std::int32_t, worker> workers;
  std::vector<iis::pool_routes> routes;  ///< by pool index
  bool started = false;
  bool expected_exit = false;  ///< a stop or kill was asked: no front_died
  poller polls;
  operation_queue ops;  ///< a start or reload runs; others wait in order
  std::optional<msg::front_view> last_view;

  static inline const char* name = "front";
};

using front_actor_ptr = caf::stateful_actor<front_actor_state>*;

/// `recovered`: the front nginx of a site started by an earlier plugin.
caf::behavior front_actor(front_actor_ptr self, site_context ctx,
                          std::optional<iis::process_ref> recovered);

}  // namespace nomad_iis
