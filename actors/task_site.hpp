#pragma once
// The task actor's site: starting it (folders, then the pools, then the
// front and the pools' workers), stopping, destroying and recovering it,
// pool operations across pools, and what the site looks like now, composed
// from what the front and the pool actors last reported. All on the task
// actor's thread; slow parts run on blocking workers or in the children.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "actors/task_actor.hpp"
#include "iis/failure.hpp"
#include "iis/state_codec.hpp"

namespace nomad_iis::site {

using done_fn = std::function<void(std::optional<iis::failure> error)>;

/// Prepares the folders, spawns the front and the pools and starts them.
/// On failure everything it made is gone again before `done` runs.
void start(task_actor_ptr self, iis::site_plan plan, done_fn done);

/// Takes over a site an earlier plugin started: its plan now, its actors in
/// settle(). Throws naming what is gone when its front no longer runs.
void recover(task_actor_ptr self, iis::saved_site saved);

/// After recover(): takes the site's lock, spawns the front and the pools
/// on what runs, and is done once every pool knows (the views are current).
void settle(task_actor_ptr self, done_fn done);

/// Graceful: the front first (it stops accepting and finishes what is in
/// flight while the pools still answer), then the pools; SIGKILL at the end.
void stop(task_actor_ptr self, iis::duration timeout, int app_signal, done_fn done);

/// Kills everything, removes the data folder and the pools' users.
void destroy(task_actor_ptr self, done_fn done);

/// Start, stop or recycle pools one after the other; errors joined.
void run_on_pools(task_actor_ptr self, msg::pool_op op, std::vector<std::size_t> pools, bool all,
                  done_fn done);

/// The plugin exits: idle pools that nothing else could start start now.
void hand_over(task_actor_ptr self, std::function<void()> done);

/// A file change: directory security again, then `done`.
void refresh_access(task_actor_ptr self, std::function<void()> done);

/// The front died on its own: the pools go; the task has exited.
void front_died(task_actor_ptr self, iis::exit_status status,
                std::function<void(msg::exit_result)> done);

/// Indices of the named pools (all when empty); nullopt names an unknown one.
std::vector<std::size_t> pool_indices(task_actor_ptr self, const std::vector<std::string>& names);

/// The pools serving files at or below `task_path` (an absolute path).
std::vector<std::string> pools_serving(const iis::site_plan& plan, const std::string& task_path);

/// The name of the pool whose files the front serves ("" when none): the
/// front's processes are that pool's.
std::string front_served_pool(task_actor_ptr self);

/// The nginx master and workers serving `view`'s pool: the front's when it
/// serves the pool's files, the pool's own otherwise.
iis::process_ref pool_supervisor(task_actor_ptr self, const msg::pool_view& view);
const std::vector<iis::process_ref>& pool_workers(task_actor_ptr self, const msg::pool_view& view);

std::string save_state(task_actor_ptr self);
iis::site_snapshot snapshot(task_actor_ptr self);
iis::usage_sample sample_usage(task_actor_ptr self);
bool running(task_actor_ptr self);

}  // namespace nomad_iis::site
