#pragma once
// The state of one site, shared by the `site` object its owner holds and by
// every callback in flight (so destroying the `site` mid-operation is safe:
// the core lives on, detached, until the last callback drops it).
//
// Operations (the owner's and our own repairs after a crash) run one at a
// time through a job queue; each is a chain of short steps on the shared
// executor, never a blocked thread. Process exits arrive from the shared
// process_monitor. Completions and observer calls go through call_out(),
// which is a no-op once the owner destroyed the site.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "iis/backend.hpp"
#include "iis/executor.hpp"
#include "iis/nginx_config.hpp"
#include "iis/process.hpp"
#include "iis/process_monitor.hpp"
#include "iis/state_codec.hpp"
#include "iis/web_config.hpp"

namespace nomad_iis::iis {

/// The threads every site shares. The monitor is declared last so it is
/// destroyed first (it posts to the executor).
struct backend_runtime {
  std::shared_ptr<executor> runner;
  std::unique_ptr<process_monitor> monitor;
};

/// "90s" or "1500ms".
std::string seconds_text(duration value);

class site_core : public std::enable_shared_from_this<site_core> {
 public:
  using clock = std::chrono::steady_clock;
  using job = std::function<void(std::function<void()> finished)>;

  site_core(std::shared_ptr<backend_runtime> runtime, site_plan plan,
            std::shared_ptr<site_observer> observer);

  // ---- the owner's operations (site interface; queries in site_queries.cpp) ----
  void start(completion done);
  void stop(duration timeout, std::string signal, completion done);
  void start_pools(std::vector<std::string> pools, completion done);
  void stop_pools(std::vector<std::string> pools, completion done);
  void recycle_pools(std::vector<std::string> pools, completion done);
  void destroy(completion done);
  void hand_over(completion done);
  void refresh_access();
  site_snapshot snapshot() const;
  usage_sample sample_usage() const;
  std::string save_state() const;
  std::vector<std::string> pools_serving(const std::string& task_path) const;
  const site_plan& plan() const { return plan_; }

  /// Re-attaches to the processes in `state` (the front was checked alive by
  /// the caller); dead parts of started pools are repaired asynchronously.
  void recover(const saved_site& state);

  /// The owner let go of the site: no more completions or observer calls,
  /// no more watching; running processes are left alone.
  void detach();

 private:
  /// How long killed processes may take to be gone.
  static constexpr auto kill_grace = std::chrono::seconds(3);
  /// How long a new nginx master may take to fork its workers.
  static constexpr auto adopt_limit = std::chrono::seconds(3);
  /// How long a replacement for a crashed process waits for logmon.
  static constexpr auto repair_output_wait = std::chrono::seconds(5);

  enum class role { front_master, front_worker, pool_master, pool_worker, app };

  /// A process we watch.
  struct tracked {
    process_ref ref;
    role kind = role::front_master;
    std::size_t pool = 0;
    std::size_t app = 0;
    bool retiring = false;  ///< expected to exit (old generation after a recycle)
    std::uint64_t watch = 0;
  };

  /// Parallel to plan_.applications.
  struct app_state {
    std::size_t pool = 0;
    std::optional<process_handler> handler;  ///< nullopt: static content
    std::optional<std::uint64_t> max_body;   ///< web.config request limit
    std::int32_t port = 0;                   ///< handler apps: where it listens
    process_ref process;                     ///< handler apps: pid 0 when not running
    /// While the pool has no worker: requests that found the port refusing
    /// wait here (the front's @app_wait), and the port stays reserved.
    unique_fd wait_socket;
    std::uint64_t wait_watch = 0;
    unique_fd port_hold;
  };

  /// Parallel to plan_.pools.
  struct pool_state {
    pool_status status = pool_status::stopped;
    process_ref master;  ///< the pool's nginx (static content)
    std::deque<clock::time_point> crashes;
    std::uint64_t periodic_timer = 0;
    /// Started without a worker: OnDemand before its first request, or
    /// stopped by idle_timeout. IIS still shows such a pool as Started.
    bool idle = false;
    bool waking = false;  ///< a start on demand is queued or running
    /// Static content: the pool's listening socket, owned here and inherited
    /// by its nginx, so requests queue in its backlog while no nginx runs.
    /// Empty after a plugin restart until the pool next stops (nginx has it).
    unique_fd listener;
    std::uint64_t listener_watch = 0;
    std::uint64_t idle_timer = 0;
    clock::time_point last_activity;
  };

  /// The task's stdout/stderr write ends for the processes of one step.
  struct output_fds {
    unique_fd out;
    unique_fd err;
  };
  using outputs_ptr = std::shared_ptr<output_fds>;

  /// Something that must accept connections before a start counts as done.
  struct ready_target {
    std::string what;  ///< for the error text
    std::string ip;    ///< tcp
    std::int32_t port = 0;
    std::string socket;  ///< unix socket name relative to the data_dir ("" = tcp)
    /// An nginx on an inherited socket (connecting proves nothing, the backlog
    /// is ours): ready once the master started a worker.
    bool nginx_workers = false;
    process_ref owner;      ///< fail early when it dies
    std::string owner_log;  ///< nginx alert log of the owner ("" = none)
    clock::time_point deadline;
    std::string limit_text;  ///< "90s", for the error text
  };

  using step = std::function<void(std::optional<std::string> error)>;

  // ---- job queue and call-outs (site_core.cpp) ----
  void enqueue(job work);
  void run_next_job();
  void call_out(const std::function<void()>& fn);
  void deliver(const completion& done, std::optional<failure> error);
  /// A step's text reported as a failure with `code`.
  void deliver(const completion& done, std::optional<std::string> error, errc code);
  void emit(const std::string& message, std::map<std::string, std::string> annotations = {});
  /// Applies directory_security; what it left alone becomes an event.
  void secure_directories();

  // ---- async building blocks (site_core.cpp) ----
  void after(std::chrono::milliseconds delay, std::function<void()> fn);
  void poll(std::function<bool()> check, clock::time_point deadline,
            std::function<void(bool done)> next,
            std::chrono::milliseconds interval = std::chrono::milliseconds(20));
  void wait_ready(std::vector<ready_target> targets, step next);
  void wait_gone(std::vector<process_ref> processes, clock::time_point deadline,
                 std::function<void(std::vector<process_ref> left)> next);
  void open_outputs(clock::time_point deadline, bool fall_back_to_null,
                    std::function<void(std::optional<std::string>, outputs_ptr)> next);
  /// Waits until old nginx workers no longer accept: gone, or "shutting down".
  void wait_retired(std::vector<process_ref> workers, clock::time_point deadline,
                    std::function<void()> next);
  /// Finds new children of `master` (workers nginx started) and tracks them.
  void adopt_workers(const process_ref& master, role kind, std::size_t pool, std::size_t wanted,
                     clock::time_point deadline,
                     std::function<void(std::vector<process_ref> adopted)> next);

  // ---- processes (site_core.cpp) ----
  void track(const process_ref& ref, role kind, std::size_t pool = 0, std::size_t app = 0);
  void on_exit(const process_ref& ref, exit_status status);
  /// Records a crash of `pool`; true when rapid-fail protection trips.
  bool record_crash(std::size_t pool);
  /// `listener` >= 0: handed to nginx as its inherited socket (NGINX="3;").
  process_ref spawn_nginx(const std::string& instance, const output_fds& outputs,
                          int listener = -1);
  /// How an nginx instance is started (outputs left to the caller).
  spawn_request nginx_request(const std::string& instance, int listener) const;
  process_ref spawn_app(std::size_t app, std::int32_t port, const output_fds& outputs);
  /// Processes of the pool (master, workers, apps, retiring ones too).
  std::vector<process_ref> pool_processes(std::size_t pool) const;
  std::vector<process_ref> front_processes() const;
  /// SIGKILLs the processes and their children (nginx workers outlive a
  /// killed master); returns everything it killed, for wait_gone().
  std::vector<process_ref> kill_all(const std::vector<process_ref>& processes) const;
  void forget(const std::vector<process_ref>& processes);
  /// Every pool Stopped with no process (the site was stopped, destroyed or
  /// lost its front). Called under mutex_.
  void mark_all_stopped();

  // ---- configuration files and certificates (site_configs.cpp) ----
  /// Reads web.config of the pool's applications (all pools when nullopt).
  void analyse_apps(std::optional<std::size_t> pool);
  bool pool_has_static(std::size_t pool) const;
  bool pool_has_apps(std::size_t pool) const;
  std::optional<nginx_identity> identity_for(const std::optional<std::string>& user) const;
  void write_pool_conf(std::size_t pool);
  void write_front_conf();
  std::vector<ready_target> pool_targets(std::size_t pool) const;
  void prepare_certificates();

  // ---- flows (site_lifecycle.cpp) ----
  void run_start(completion done, std::function<void()> finished);
  /// Learns the workers of each nginx master, one after the other.
  void adopt_all(std::vector<std::tuple<process_ref, role, std::size_t>> masters,
                 std::function<void()> next);
  void abort_start(failure error, completion done, std::function<void()> finished);
  void run_stop(duration timeout, int app_signal, completion done, std::function<void()> finished);
  void run_destroy(completion done, std::function<void()> finished);
  void run_front_died(exit_status status, std::function<void()> finished);
  void replace_front_worker(process_ref old, std::function<void()> finished);

  // ---- pool flows (site_pools.cpp) ----
  std::optional<std::vector<std::size_t>> resolve_pools(const std::vector<std::string>& names,
                                                        std::string& error) const;
  /// Runs `action` on one pool after the other; errors are reported together.
  void for_each_pool(std::vector<std::size_t> pools, std::function<void(std::size_t, step)> action,
                     step done);
  struct pool_batch {
    std::vector<std::size_t> pools;
    std::size_t next = 0;
    std::vector<std::string> errors;
    std::function<void(std::size_t, step)> action;
    step done;
  };
  void run_pool_batch(std::shared_ptr<pool_batch> batch);
  /// Spawns the pool's nginx (static content) and application processes.
  void spawn_pool(std::size_t pool, const output_fds& outputs);
  /// The pool's nginx on the pool's listening socket (created if need be).
  process_ref spawn_pool_master(std::size_t pool, const output_fds& outputs);
  void start_pool(std::size_t pool, step done);
  /// Graceful within shutdown_time_limit, then SIGKILL.
  void stop_pool(std::size_t pool, step done);
  /// Overlapped: SIGHUP the pool's nginx, new application processes on new
  /// ports behind a front reload; otherwise stop + start.
  void recycle_pool(std::size_t pool, step done);
  /// Re-renders the front and SIGHUPs it; done once the old workers stopped
  /// accepting. Hands back the old workers (they may still drain).
  void reload_front(std::function<void(std::optional<std::string>, std::vector<process_ref>)> next);
  /// Stops replaced application processes once the front workers that may
  /// still proxy to them are gone.
  void retire_apps(std::vector<process_ref> old_apps, std::vector<process_ref> old_front_workers,
                   duration limit);
  void arm_periodic_restart(std::size_t pool);

  // ---- on-demand starts and idle stops (site_demand.cpp) ----
  /// A pool can be Started without a worker (OnDemand, or idle_timeout).
  bool pool_can_idle(std::size_t pool) const;
  /// Static content: the pool's listening socket unless we hold it: taken
  /// back from its keeper after a plugin restart, else a new one (kept by a
  /// keeper when the pool can idle).
  void open_listener(std::size_t pool);
  /// The pool has no worker now: watch its sockets, reserve its app ports.
  void arm_activation(std::size_t pool);
  /// An app's wait socket unless we hold it (taken back from its keeper after
  /// a plugin restart, else new and kept). Called under mutex_.
  void open_wait_socket(std::size_t app);
  /// Starts a keeper for an activation socket (socket_keeper.hpp), recorded
  /// at `record`; with `pool`, one that starts that pool while we are gone.
  /// Called under mutex_.
  void keep_socket(int fd, const std::string& record, const std::string& what,
                   std::optional<std::size_t> pool);
  /// Stops watching (the pool's workers take the connections from here on).
  void disarm_activation(std::size_t pool);
  /// Resets the connections waiting for the pool's apps (the front then
  /// retries the app's port) and closes the wait sockets.
  void release_waiters(std::size_t pool);
  /// Closes every socket of the pool's activation (stop, destroy, detach).
  void close_activation(std::size_t pool);
  void on_activation(std::size_t pool);
  /// Job: starts the workers of an idle pool (a request waits, or AlwaysRunning).
  /// Writes or removes the pool's stopped marker (see layout::pool_stopped_marker).
  void persist_pool_stopped(std::size_t pool, bool stopped);
  /// `output_wait`: how long to wait for logmon to read the task's FIFOs
  /// before the workers write to /dev/null instead.
  void wake_pool(std::size_t pool, std::string reason, std::function<void()> finished,
                 clock::duration output_wait);
  void arm_idle_check(std::size_t pool);
  void check_idle(std::size_t pool);
  /// Something still holds a connection to the pool's workers.
  bool pool_busy(std::size_t pool) const;
  /// Job: stops the workers of a pool idle for idle_timeout; the pool stays Started.
  void idle_stop(std::size_t pool, std::function<void()> finished);
  /// Reads the pool's web.config files again: true when one turned an
  /// application from static content into a process or back (the front's
  /// routes must change: see take_front_stale()).
  bool app_kinds_changed(std::size_t pool);
  /// The front's configuration still routes applications by their old kind.
  bool take_front_stale();

  // ---- crash repairs (site_repairs.cpp) ----
  void rapid_fail_stop(std::size_t pool, std::function<void()> finished);
  void repair_pool_master(std::size_t pool, process_ref old, exit_status status,
                          std::function<void()> finished);
  void replace_pool_worker(std::size_t pool, process_ref old, exit_status status,
                           std::function<void()> finished);
  void restart_app(std::size_t app, process_ref old, exit_status status,
                   std::function<void()> finished);

  std::shared_ptr<backend_runtime> runtime_;
  const site_plan plan_;
  const std::shared_ptr<site_observer> observer_;

  std::recursive_mutex gate_;          ///< held while calling out; detach() takes it
  std::atomic<bool> detached_{false};  ///< written under gate_
  /// Held shared while we own the site: keepers start idle pools only
  /// when it is free (socket_keeper.hpp). Guarded by mutex_.
  unique_fd site_lock_;
  std::atomic<bool> handing_over_{false};  ///< the plugin exits: start idle pools, fast

  mutable std::mutex mutex_;  ///< guards everything below
  bool started_ = false;
  bool destroyed_ = false;
  bool front_expected_exit_ = false;  ///< stop/destroy asked: no on_exit
  process_ref front_;
  std::vector<pool_state> pools_;
  std::vector<app_state> apps_;
  std::map<std::int32_t, tracked> processes_;
  std::deque<job> jobs_;
  bool job_running_ = false;
  unique_fd front_reader_;    ///< held while the front starts (see hold_fifo_reader)
  bool front_stale_ = false;  ///< an application changed kind; reload the front on the next start
};

}  // namespace nomad_iis::iis
