#pragma once
// The port between the actors and the machine: the IIS model (model.hpp),
// the process port (launcher.hpp), the files-and-sockets port
// (site_host.hpp), what the fingerprint and the debug endpoint need, and the
// shapes in which the actors report a site's processes. The actors own
// every site's state; nothing here keeps any.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/driver_config.hpp"
#include "config/task_config.hpp"
#include "iis/failure.hpp"
#include "iis/launcher.hpp"
#include "iis/model.hpp"
#include "iis/site_host.hpp"

namespace nomad_iis::iis {

/// A pool as its actor last reported it.
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

/// Every process of the site at one instant, grouped by pool ("" = the front).
struct usage_sample {
  std::map<std::string, std::vector<process_usage>> by_pool;
};

/// What the fingerprint reports about the web server.
struct backend_info {
  bool healthy = false;
  std::string version;            ///< "nginx/1.22.1"
  std::string reason;             ///< why not healthy
  std::string cgroup_version;     ///< "v1", "v2", "" = resource limits not enforced
  std::string cgroup_mountpoint;  ///< "/sys/fs/cgroup"
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

  /// Resolves a validated task config against the task and this host (paths,
  /// ports, Unix users). Throws config::config_error naming the field. Creates
  /// nothing: the task's actors do.
  virtual site_plan plan_site(const config::task_config& config, const task_context& task,
                              const config::driver_config& driver) = 0;

  /// Checks the web server binary (runs it: blocking, call from a worker).
  virtual backend_info probe(const std::string& nginx_path) = 0;

  /// Processes of every site.
  virtual std::shared_ptr<launcher> processes() = 0;
  /// Files, users and sockets of every site.
  virtual std::shared_ptr<site_host> host() = 0;

  /// Site folders under `data_dir` (and their processes) not in `known`
  /// (site names or folders). Reads the file system: call from a worker.
  virtual std::vector<dangling_item> list_dangling(const std::string& data_dir,
                                                   const std::vector<std::string>& known) = 0;
};

}  // namespace nomad_iis::iis
