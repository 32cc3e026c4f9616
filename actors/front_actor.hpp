#pragma once
// The front of a task's site: the nginx that holds the task's bindings and
// routes each application to its pool (the pool's socket, or the port of
// its application process). Owned by the task actor; the pool actors ask
// it to reload when their routes change. Reloads run one at a time.
//
// A reload starts a new generation: an nginx master of its own on new
// members of the bindings' listen groups (iis/listen_group.hpp), which
// takes every new connection once its workers run. Older generations keep
// the connections they have, side by side, until their clients leave (or
// drain_limit), and are then stopped; no client connection is closed under
// a request. A front an earlier release started (generation 0, its sockets
// its own) reloads in place (SIGHUP).

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
  /// The current generation: its master, number and our copies of its
  /// listening sockets (empty: it reloads in place).
  iis::process_ref master;
  std::uint32_t generation = 0;
  std::vector<unique_fd> members;
  /// The steering of the bindings' listen groups, one map per member
  /// (empty: not made yet; a restarted plugin's program steers until then).
  std::vector<unique_fd> steering;
  /// A generation other than the current one (master pid 0: none).
  struct other_generation {
    iis::process_ref master;
    std::uint32_t generation = 0;
    std::vector<unique_fd> members;         ///< our copies, closed once its processes are gone
    std::vector<iis::process_ref> workers;  ///< a draining one's, as it was retired
    bool quitting = false;                  ///< SIGQUIT sent: its clients are being let go
  };
  /// The next generation until its workers run; only then is it current
  /// (its exit before that fails the change, not the site).
  other_generation starting;
  /// Older generations while their clients leave, oldest first.
  std::deque<other_generation> draining;
  struct worker {
    iis::process_ref ref;
    bool retiring = false;
  };
  std::map<std::int32_t, worker> workers;
  std::vector<iis::pool_routes> routes;  ///< by pool index
  bool started = false;
  bool expected_exit = false;  ///< a stop or kill was asked: no front_died
  bool repairing = false;      ///< a dead master of a front serving files is replaced
  poller polls;
  operation_queue ops;  ///< a start or reload runs; others wait in order
  std::optional<msg::front_view> last_view;

  static inline const char* name = "front";
};

using front_actor_ptr = caf::stateful_actor<front_actor_state>*;

/// `recovered`: the front generations a site started by an earlier plugin
/// runs, oldest first (the last is the current one).
caf::behavior front_actor(front_actor_ptr self, site_context ctx,
                          std::vector<iis::front_generation> recovered);

}  // namespace nomad_iis
