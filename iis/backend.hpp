#pragma once
// The port between the actors and a web server. Actors own a site and call
// it; every operation that can take time is asynchronous and reports through
// a completion callback that runs on a backend thread (the actor turns it
// into a message). Nothing here blocks the caller for longer than reading a
// few /proc files.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/driver_config.hpp"
#include "config/task_config.hpp"
#include "iis/failure.hpp"
#include "iis/model.hpp"

namespace nomad_iis::iis {

/// Result of an asynchronous operation: nullopt on success, else why it failed.
using completion = std::function<void(std::optional<failure> error)>;

/// Something worth a Nomad task event ("worker 1234 of pool default crashed; restarted").
struct site_event {
  std::string message;
  std::map<std::string, std::string> annotations;
};

/// How a site ended on its own.
struct exit_info {
  std::int32_t exit_code = 0;
  std::int32_t signal = 0;
  std::string reason;
};

/// Receives what a site reports without being asked. Called on backend
/// threads; implementations forward to an actor and return at once.
class site_observer {
 public:
  virtual ~site_observer() = default;
  virtual void on_event(const site_event& event) = 0;
  /// The site died on its own (its front web server is gone). At most once,
  /// never after a stop() or destroy() that the owner asked for.
  virtual void on_exit(const exit_info& info) = 0;
};

struct pool_snapshot {
  std::string name;
  pool_status status = pool_status::unknown;
  /// Live worker processes of this pool; none while a Started pool is idle
  /// (OnDemand before its first request, or stopped by idle_timeout).
  std::vector<process_ref> workers;
  /// The pool's nginx master (pid 0 when the pool serves no static content): it
  /// respawns the workers; dumps and kills in tests target the workers above.
  process_ref supervisor;
};

struct site_snapshot {
  bool running = false;  ///< front web server alive
  process_ref front;
  std::vector<pool_snapshot> pools;
};

/// Cumulative CPU time and current memory of one process.
struct process_usage {
  std::int32_t pid = 0;
  std::uint64_t user_ticks = 0;    ///< utime, clock ticks
  std::uint64_t system_ticks = 0;  ///< stime, clock ticks
  std::uint64_t rss_bytes = 0;
};

/// Every process of the site at one instant, grouped by pool ("" = the front).
struct usage_sample {
  std::map<std::string, std::vector<process_usage>> by_pool;
};

/// One running (or recovered) site. Operations on one site are issued one at
/// a time by its owner (the task actor); snapshot() and sample_usage() may be
/// called at any time from the owner's thread.
class site {
 public:
  virtual ~site() = default;

  /// Creates configs, certificates and folders, then starts the front web
  /// server and the workers of the AlwaysRunning pools. An OnDemand pool is
  /// Started without a worker: its first request starts one (and waits for
  /// it), and idle_timeout stops it again. On failure everything created is
  /// removed again before the completion runs.
  virtual void start(completion done) = 0;

  /// Graceful stop of the whole site: drain for up to `timeout`, then kill.
  /// `signal` is Nomad's kill_signal ("" = the backend's graceful default).
  virtual void stop(duration timeout, std::string signal, completion done) = 0;

  /// Pool lifecycle as IIS defines it. An empty list means every pool.
  virtual void start_pools(std::vector<std::string> pools, completion done) = 0;
  virtual void stop_pools(std::vector<std::string> pools, completion done) = 0;
  virtual void recycle_pools(std::vector<std::string> pools, completion done) = 0;

  /// Kills whatever still runs and removes the site's data_dir.
  virtual void destroy(completion done) = 0;

  /// The plugin is about to exit and leave the site running. Idle pools
  /// that nothing could start until a recovery (those with application
  /// processes, or without a socket keeper) start their workers now; the
  /// recovered site idles them out again. May be called while another
  /// operation runs; `done` runs once every wake ended.
  virtual void hand_over(completion done) = 0;

  virtual site_snapshot snapshot() const = 0;
  virtual usage_sample sample_usage() const = 0;

  /// Everything recover_site() needs, as opaque bytes (goes into driver_state).
  virtual std::string save_state() const = 0;

  /// A file change (Management API) put new entries in the task's folders:
  /// the pools' users get their rights on them again (directory_security),
  /// queued behind the site's other work, so before pools it stopped start
  /// again. Nothing to wait for; what it leaves alone becomes an event.
  virtual void refresh_access() = 0;

  /// The pools whose applications or virtual directories serve files below
  /// `task_path` (an absolute path inside the task dir).
  virtual std::vector<std::string> pools_serving(const std::string& task_path) const = 0;

  virtual const site_plan& plan() const = 0;
};

/// What the fingerprint reports about the web server.
struct backend_info {
  bool healthy = false;
  std::string version;  ///< "nginx/1.22.1"
  std::string reason;   ///< why not healthy
};

/// A site folder or process that no tracked task owns (for the debug endpoint).
struct dangling_item {
  std::string site_name;
  std::string data_dir;
  std::vector<std::int32_t> pids;
};

class backend {
 public:
  virtual ~backend() = default;

  /// Applies a new driver config (SetConfig may arrive many times). Sites
  /// already running keep the settings they were planned with.
  virtual void configure(const config::driver_config& driver) = 0;

  /// Checks the web server binary; may run it, so the result comes back async.
  virtual void probe(std::function<void(backend_info)> done) = 0;

  /// Resolves a validated task config against the task and this host (paths,
  /// ports, Unix users). Throws config::config_error naming the field. Creates
  /// nothing: create_site() and start() do.
  virtual site_plan plan_site(const config::task_config& config, const task_context& task,
                              const config::driver_config& driver) = 0;

  /// A site for `plan`; nothing runs until start().
  virtual std::unique_ptr<site> create_site(site_plan plan,
                                            std::shared_ptr<site_observer> observer) = 0;

  /// Re-attaches to a site from save_state() bytes. Throws std::runtime_error
  /// naming what is gone when the front web server no longer runs (checked by
  /// PID and start time). Idempotence is the caller's business.
  virtual std::unique_ptr<site> recover_site(std::string_view saved_state,
                                             std::shared_ptr<site_observer> observer) = 0;

  /// Site folders under the data dir (and their processes) not in `known`.
  virtual std::vector<dangling_item> list_dangling(const std::vector<std::string>& known) = 0;
};

}  // namespace nomad_iis::iis
