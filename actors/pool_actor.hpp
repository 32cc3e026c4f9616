#pragma once
// One actor per application pool: it owns the pool's processes (its nginx
// master and workers, its application processes), its sockets (the pool's
// listening socket, the wait sockets of idle applications, their keepers)
// and its timers (idle_timeout, periodic_restart, rapid-fail window). Every
// change of the pool, whoever causes it (the task actor's requests, a
// crashed worker, a request that wakes an idle pool, an idle stop, a
// periodic recycle), runs as one operation at a time from its mailbox.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/operation_queue.hpp"
#include "actors/poller.hpp"
#include "actors/site_context.hpp"
#include "common/unique_fd.hpp"
#include "iis/state_codec.hpp"
#include "messages/site.hpp"

namespace nomad_iis {

struct pool_actor_state {
  using time_point = poller::time_point;

  enum class role { master, worker, app };

  /// A process of the pool that we watch.
  struct tracked {
    iis::process_ref ref;
    role kind = role::worker;
    std::size_t app = 0;    ///< index into apps (role::app)
    bool retiring = false;  ///< expected to exit (old generation, idle stop)
    std::uint64_t watch = 0;
  };

  /// One application of the pool.
  struct app_state {
    iis::app_runtime runtime;  ///< handler, limits, port
    iis::process_ref process;  ///< handler apps: pid 0 when not running
    /// While the pool has no worker: requests that found the port refusing
    /// wait here (the front's @app_wait), and the port stays reserved.
    unique_fd wait_socket;
    std::uint64_t wait_watch = 0;
    unique_fd port_hold;
  };

  site_context ctx;
  std::size_t index = 0;
  caf::actor front;

  iis::pool_status status = iis::pool_status::stopped;
  /// Started without a worker: OnDemand before its first request, or
  /// stopped by idle_timeout. IIS still shows such a pool as Started.
  bool idle = false;
  bool waking = false;  ///< a start on demand is queued or running
  /// The front serves the pool's files (pool_plan::single_hop): the pool
  /// runs no process of its own; the front's are its workers.
  bool front_serves = false;
  /// The front's change to serving the files runs: its processes are not
  /// the pool's yet.
  bool taking_over = false;
  bool handing_over = false;  ///< the plugin exits: no waiting for logmon
  iis::process_ref master;    ///< the pool's nginx (static content)
  std::vector<app_state> apps;
  std::map<std::int32_t, tracked> processes;
  std::deque<time_point> crashes;
  /// Starts, crashes, recycles and rapid-fail trips, for the metrics.
  msg::pool_counts counts;
  /// Static content: the pool's listening socket, owned here and inherited
  /// by its nginx, so requests queue in its backlog while no nginx runs.
  /// Empty after a plugin restart until the pool next stops (nginx has it).
  unique_fd listener;
  std::uint64_t listener_watch = 0;
  time_point last_activity{};
  /// Timers are delayed messages that carry a generation; a newer one wins.
  std::uint64_t periodic_generation = 0;
  std::uint64_t idle_generation = 0;
  std::uint64_t memory_generation = 0;
  /// OOM kills counted in the pool's cgroup when we last looked: a rise at
  /// a worker's exit means the kernel killed it for memory.
  std::uint64_t oom_kills = 0;
  /// The front's routes still show an application by its old kind.
  bool front_stale = false;

  poller polls;
  /// One operation at a time (a kill or a site stop preempts the one in
  /// flight: its late answers compare the queue's epoch and drop themselves).
  operation_queue ops;

  std::optional<msg::pool_view> last_view;

  const iis::site_plan& plan() const { return *ctx.plan; }
  const iis::pool_plan& pool() const { return ctx.plan->pools[index]; }
  iis::launcher& launcher() const { return *ctx.launcher; }
  iis::site_host& host() const { return *ctx.host; }

  static inline const char* name = "pool";
};

using pool_actor_ptr = caf::stateful_actor<pool_actor_state>*;

/// How a pool actor begins: a new site, or a recovered one.
struct pool_origin {
  std::optional<iis::saved_pool> recovered;
};

caf::behavior pool_actor(pool_actor_ptr self, site_context ctx, std::size_t index, caf::actor front,
                         pool_origin origin);

}  // namespace nomad_iis
