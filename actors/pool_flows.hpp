#pragma once
// The pool actor's operations, shared by its translation units:
// pool_actor.cpp (mailbox, bookkeeping, process exits), pool_lifecycle.cpp
// (prepare, launch, start, stop, recycle, shutdown, kill), pool_demand.cpp
// (sockets, on-demand starts, idle stops) and pool_repairs.cpp (crashes,
// rapid-fail protection, periodic recycles). All run on the pool's thread.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "actors/blocking.hpp"
#include "actors/pool_actor.hpp"

namespace nomad_iis::pool {

using role = pool_actor_state::role;
using step = std::function<void(std::optional<iis::failure> error)>;
using finished_fn = std::function<void()>;
using operation = std::function<void(finished_fn finished)>;

// ---- pool_actor.cpp ----
/// Runs `op` once no other operation of the pool runs.
void run_exclusive(pool_actor_ptr self, operation op);
/// A kill or a site stop goes first: the operation in flight is abandoned
/// (its pending answers are dropped, its waits cleared); queued ones stay.
void preempt(pool_actor_ptr self);

/// off_thread for the pool's operations: the answer is dropped when the
/// operation that asked was preempted meanwhile.
template <class T, class Work, class Then>
void pool_job(pool_actor_ptr self, Work work, Then then) {
  off_thread<T>(self, self->state.ctx.workers, std::move(work),
                [self, epoch = self->state.ops.epoch(),
                 then = std::move(then)](job_result<T> result) mutable {
                  if (self->state.ops.epoch() == epoch) then(std::move(result));
                });
}
/// Tells the task actor how the pool looks when that changed.
void publish(pool_actor_ptr self);
void track(pool_actor_ptr self, const iis::process_ref& ref, role kind, std::size_t app = 0);
void forget(pool_actor_ptr self, const std::vector<iis::process_ref>& processes);
void set_retiring(pool_actor_ptr self, const std::vector<iis::process_ref>& processes, bool value);
/// The master, workers and application processes (retiring ones too).
std::vector<iis::process_ref> pool_processes(pool_actor_ptr self);
bool has_static(pool_actor_ptr self);
bool has_apps(pool_actor_ptr self);
bool can_idle(pool_actor_ptr self);
/// The front may serve the pool's files: single_hop, static content only.
bool can_front_serve(pool_actor_ptr self);
/// Records a crash; true when rapid-fail protection trips.
bool record_crash(pool_actor_ptr self);
/// Stopped with no process.
void mark_stopped(pool_actor_ptr self);
void emit(pool_actor_ptr self, const std::string& message);
std::string pool_name(pool_actor_ptr self);
/// "application pool x: " + the error's text; its code stays.
iis::failure pool_failure(pool_actor_ptr self, iis::failure error);
/// "recycle of application pool x: " + the error's text; its code stays.
iis::failure recycle_failure(pool_actor_ptr self, iis::failure error);
/// Kills the processes, waits for them, forgets them.
void kill_and_forget(pool_actor_ptr self, std::vector<iis::process_ref> processes,
                     std::function<void(std::vector<iis::process_ref> survivors)> next);
/// Graceful: SIGQUIT to the master, `app_signal` to the apps, then SIGKILL
/// after `limit`.
void drain(pool_actor_ptr self, iis::duration limit, int app_signal,
           std::function<void(std::vector<iis::process_ref> survivors)> next);

// ---- pool_lifecycle.cpp ----
/// The pool's applications as its configs and the front see them.
std::vector<iis::app_runtime> app_runtimes(pool_actor_ptr self);
iis::pool_routes routes_of(pool_actor_ptr self);
/// Writes the pool's nginx configuration (its static applications) on a
/// blocking worker; with `trim_alert_log` also shortens the log a reload
/// appends to. Nothing to write without static content.
void write_conf(pool_actor_ptr self, bool trim_alert_log, step next);
/// Re-reads web.config (blocking worker); `changed`: an application moved
/// between static content and a process.
void analyse_apps(pool_actor_ptr self,
                  std::function<void(std::optional<iis::failure>, bool changed)> next);
/// The front routes the pool's applications anew; hands back its old workers.
/// A stop or start is a new_answer (msg::front_change).
void reload_front(
    pool_actor_ptr self, msg::front_change change,
    std::function<void(std::optional<iis::failure>, std::vector<iis::process_ref>)> next);
/// The front's next generation serves the pool's files (its marker written
/// once it does); `next` gets the front's processes it replaced.
void hand_files_to_front(
    pool_actor_ptr self, msg::front_change change,
    std::function<void(std::optional<iis::failure>, std::vector<iis::process_ref>)> next);
/// Spawns the pool's nginx (static content) and, unless `master_only`,
/// its application processes.
void spawn_pool(pool_actor_ptr self, outputs_ptr outputs, step next, bool master_only = false);
std::vector<ready_target> pool_targets(pool_actor_ptr self);
/// Finds new children of the master (workers nginx started) and tracks them.
void adopt_workers(pool_actor_ptr self, iis::process_ref master, poller::time_point deadline,
                   std::function<void(std::vector<iis::process_ref> adopted)> next);
void start_pool(pool_actor_ptr self, step done);
/// The front starts serving the pool's files; the pool's own nginx (a start
/// on demand ran it) goes once the front's previous generation is gone.
void serve_from_front(pool_actor_ptr self, finished_fn finished);
/// The front goes back to proxying to the pool's socket (an idle stop).
void proxy_from_front(pool_actor_ptr self, step next);
void stop_pool(pool_actor_ptr self, step done);
void recycle_pool(pool_actor_ptr self, bool all, step done);
void prepare(pool_actor_ptr self, std::function<void(std::optional<iis::failure>)> done);
void launch(pool_actor_ptr self, step done);
void shutdown(pool_actor_ptr self, iis::duration timeout, int app_signal, step done);
void kill(pool_actor_ptr self, step done);
void recover(pool_actor_ptr self, const iis::saved_pool& saved);

// ---- pool_demand.cpp ----
/// Static content: the pool's listening socket unless we hold it (taken back
/// from its keeper after a plugin restart, else a new one, kept by a keeper
/// when the pool can idle).
void open_listener(pool_actor_ptr self, step next);
/// The pool has no worker now: watch its sockets, reserve its app ports.
void arm_activation(pool_actor_ptr self, step next);
void disarm_activation(pool_actor_ptr self);
/// Resets the connections waiting for the pool's apps and closes the wait sockets.
void release_waiters(pool_actor_ptr self);
/// Closes every socket of the pool's activation (stop, kill).
void close_activation(pool_actor_ptr self);
void on_activation(pool_actor_ptr self);
void wake_pool(pool_actor_ptr self, std::string reason, finished_fn finished,
               iis::duration output_wait);
void arm_idle_check(pool_actor_ptr self);
void on_idle_check(pool_actor_ptr self, std::uint64_t generation);
void hand_over(pool_actor_ptr self, finished_fn finished);

// ---- pool_repairs.cpp ----
void on_exit(pool_actor_ptr self, const iis::process_ref& ref, iis::exit_status status);
/// A process of the front that serves the pool's files ended: its event,
/// counted as a crash (rapid-fail protection).
void on_served_exit(pool_actor_ptr self, const msg::served_exit& exit);
void rapid_fail_stop(pool_actor_ptr self, finished_fn finished);
/// The pool's nginx master is gone: a new one on the pool's socket.
void repair_pool_master(pool_actor_ptr self, iis::process_ref old, iis::exit_status status,
                        finished_fn finished);
/// An application process is gone: a new one (same port when free).
void restart_app(pool_actor_ptr self, std::size_t index, iis::process_ref old,
                 iis::exit_status status, finished_fn finished);
/// Whether the pool's cgroup counted an OOM kill since the last look.
bool took_oom_kill(pool_actor_ptr self);
/// private_memory_limit: looks at the workers every timeouts::private_memory_check.
void arm_memory_check(pool_actor_ptr self);
void on_memory_check(pool_actor_ptr self, std::uint64_t generation);
void arm_periodic_restart(pool_actor_ptr self);
void on_periodic(pool_actor_ptr self, std::uint64_t generation);

}  // namespace nomad_iis::pool
