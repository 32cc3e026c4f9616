#pragma once
// The messages between a task actor and the actors it owns: its site's
// front and one actor per application pool. Local only (they carry the
// plan's and web.config's types and are never serialised), so they are
// marked as unsafe message types instead of getting inspect() overloads.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/timespan.hpp>

#include "iis/backend.hpp"
#include "iis/model.hpp"
#include "iis/process_types.hpp"
#include "iis/state_codec.hpp"
#include "messages/management.hpp"

namespace nomad_iis::msg {

/// Blocking work for a worker actor (actors/blocking.hpp).
struct blocking_job {
  std::function<void()> work;
};

/// A blocking job behind a named gate: at most `limit` of the gate's jobs
/// run at once, the others wait in order; one that waited `max_wait`
/// without a slot is refused with ec::busy and never runs.
struct gated_job {
  std::string gate;
  std::int64_t limit = 1;
  caf::timespan max_wait{};
  std::function<void()> work;
};

/// The blocking pool's own reminder: refuse the jobs of `gate` that waited
/// too long.
struct gate_sweep {
  std::string gate;
};

/// A process an actor watches has ended (from the launcher's monitor).
struct process_exit {
  iis::process_ref process;
  iis::exit_status status;
};

// ---- task actor ----

/// StartTask with a plan made already (the site suites plan in C++).
struct start_planned {
  iis::task_context task;
  iis::site_plan plan;
};

/// How the site looks now (iis::site_snapshot), composed from the views.
struct get_site_snapshot {};

/// What TaskHandle.driver_state would hold now (a string).
struct get_driver_state {};

// ---- pool actor ----

/// Site start, step 1: read web.config, pick ports, write the pool's nginx
/// config, open its socket. Answered with pool_routes.
struct pool_prepare {};

/// Site start, step 2 (the front's config is written): start the workers
/// of an AlwaysRunning pool, or wait for requests (OnDemand).
struct pool_launch {};

/// Start, stop or recycle through a signal or the Management API; `all`
/// says the request named no pool (recycling all skips stopped pools).
struct pool_request {
  pool_op op = pool_op::start;
  bool all = false;
};

/// The site stops: graceful within `timeout` (the front is gone already).
struct pool_shutdown {
  iis::duration timeout{};
  int app_signal = 15;
};

/// Kill everything now (destroy, a failed start, the front died).
struct pool_kill {};

/// Answered once the operations queued before it ran (a recovery).
struct pool_sync {};

/// The plugin exits: start idle pools nothing else could start.
struct pool_hand_over {};

/// What a pool actor tells its task actor after every change.
struct pool_view {
  std::size_t pool = 0;
  iis::pool_status status = iis::pool_status::stopped;
  bool idle = false;
  /// The front serves the pool's files: its master and workers are the pool's.
  bool front_serves = false;
  iis::process_ref master;
  std::vector<iis::process_ref> workers;  ///< live workers (nginx workers, app processes)
  std::vector<iis::process_ref> all;      ///< every process of the pool (usage)
  std::vector<iis::saved_app> apps;       ///< handler apps, for the driver state
  pool_counts counts;                     ///< for the metrics
};

/// Reply to pool_prepare (and what a pool sends with front_reload).
struct pool_prepared {
  iis::pool_routes routes;
};

// ---- front actor ----

/// Write the front's config from every pool's routes, start it, wait until
/// its bindings accept. Answered with the front's process.
struct front_start {
  std::vector<iis::pool_routes> routes;
};

/// Whether a change of the front changes what the pool answers (a stop or
/// a start) or only who answers it (a recycle, a takeover, new ports).
enum class front_change : std::uint8_t { same_answer, new_answer };

/// A pool's routes changed: a new front generation takes the new
/// connections (an earlier release's front: SIGHUP), answered with
/// front_reloaded once it does; the old one finishes its clients'
/// requests. With a new answer, the old ones have begun to end their
/// clients' kept connections (QUIT taken in) by the reply, so that no
/// request sent after it gets the previous answer.
struct front_reload {
  iis::pool_routes routes;
  front_change change = front_change::same_answer;
};
struct front_reloaded {
  std::vector<iis::process_ref> old_workers;  ///< they may still drain
  std::vector<iis::process_ref> new_workers;  ///< the ones that took over
};

/// A recovered pool's routes, for the front's next configuration (a front
/// recovered after a plugin restart knows none): no reload.
struct front_routes {
  iis::pool_routes routes;
};

/// The site stops: SIGQUIT, wait up to `timeout`. Answered with front_left.
struct front_stop {
  iis::duration timeout{};
};
struct front_left {
  std::vector<iis::process_ref> processes;
};

/// Kill the front now.
struct front_kill {};

/// The front's master exited on its own: the site is down.
struct front_died {
  iis::exit_status status;
};

/// A process of a front that serves a pool's files ended on its own and was
/// replaced (`replacement` pid 0: it was not). The task actor hands it to
/// that pool: its crash count and its event.
struct served_exit {
  std::size_t pool = 0;
  iis::process_ref process;
  bool master = false;
  std::string reason;  ///< "signal 9"
  iis::process_ref replacement;
};

/// What the front actor tells its task actor after every change.
struct front_view {
  iis::process_ref master;  ///< the current generation's
  std::vector<iis::process_ref> workers;
  std::uint32_t generation = 0;
  /// Older generations while they finish their connections, oldest first.
  std::vector<iis::front_generation> draining;
};

// ---- website actor (node websites, actors/website_actor.hpp) ----

/// A task joins the website its plan names (plan->website): refused when the
/// website is not declared or another task already serves one of its
/// aliases there. `recovered`: the website's nginx as the task's handle
/// recorded it, adopted when the website actor knows of none (a plugin
/// restart). Answered with website_served (no old workers).
struct website_join {
  std::string task_id;
  std::shared_ptr<const iis::site_plan> plan;
  iis::process_ref recovered;
  caf::actor_addr owner;  ///< the task actor: told front_died when the website's nginx dies
};

/// A task's routes changed: its fragments are written and checked with
/// `nginx -t`, then the website starts (first use) or reloads. Answered
/// with website_served.
struct website_routes {
  std::string website;
  std::string key;  ///< iis::website_member_key of the task's site name
  std::vector<iis::pool_routes> routes;
};

/// The task leaves: its fragments go and the website reloads, or stops with
/// its last task. Answered with website_served.
struct website_leave {
  std::string website;
  std::string key;
};

struct website_served {
  iis::process_ref master;                    ///< pid 0: the website's nginx is not running
  std::vector<iis::process_ref> old_workers;  ///< a reload's old workers (they may still drain)
};

}  // namespace nomad_iis::msg

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::blocking_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::gated_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::gate_sweep)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::start_planned)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::get_site_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::get_driver_state)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::iis::site_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::process_exit)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_prepare)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_launch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_shutdown)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_kill)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_sync)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_hand_over)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::pool_prepared)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_start)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_reload)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_reloaded)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_routes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_stop)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_left)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_kill)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_died)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::served_exit)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::front_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::website_join)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::website_routes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::website_leave)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::msg::website_served)
