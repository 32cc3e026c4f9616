#pragma once
// The port through which the actors touch a site's files and sockets: its
// folders, users, nginx configurations, records for recoveries, logs, the
// task's log FIFOs, its listening sockets and their keepers. launcher.hpp
// is the same for processes. Every call may block (file system, useradd,
// openssl, /proc): actors make them from blocking workers, except the few
// marked quick. Failures are thrown, as backend_error where the code
// matters (failure.hpp). The Linux backend implements it (linux_site_host.cpp).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/failure.hpp"
#include "iis/front_generations.hpp"
#include "iis/front_status.hpp"
#include "iis/model.hpp"
#include "iis/process_types.hpp"
#include "iis/request_log.hpp"

namespace nomad_iis::iis {

/// Something worth a Nomad task event ("worker 1234 of pool default crashed; restarted").
struct site_event {
  std::string message;
  std::map<std::string, std::string> annotations;
};

/// What a pool knows of one of its applications.
struct app_runtime {
  std::size_t app = 0;                     ///< index into plan.applications
  std::optional<process_handler> handler;  ///< nullopt: static content
  std::optional<std::uint64_t> max_body;   ///< web.config request limit
  std::int32_t port = 0;                   ///< handler apps: where it listens (0 = none)
};

/// How one pool's applications are routed by the front.
struct pool_routes {
  std::size_t pool = 0;
  bool down = false;  ///< stopped or stopping: its applications answer 503/444
  /// The front serves the pool's static content itself (pool_plan::single_hop).
  bool front_serves = false;
  std::vector<app_runtime> apps;
};

/// The pool whose content the front serves, if one does (its workers run
/// as that pool's user, in its cgroup).
inline std::optional<std::size_t> front_served_pool(const std::vector<pool_routes>& routes) {
  for (const auto& pool : routes)
    if (pool.front_serves && !pool.down) return pool.pool;
  return std::nullopt;
}

/// An application process of the pool: its spawn request with its log
/// descriptor (stdoutLogEnabled) opened below the task without following links.
struct app_launch {
  spawn_request request;
  unique_fd log;  ///< empty: the task's stdout/stderr
};

/// The task's stdout/stderr FIFOs opened for writing.
struct output_fds {
  unique_fd out;
  unique_fd err;
  bool complete() const { return out && err; }
};

/// A socket taken back from its keeper, and the keeper (still running).
struct kept_socket {
  unique_fd fd;
  process_ref keeper;
};

class site_host {
 public:
  virtual ~site_host() = default;

  // ---- the site's folders, users and configurations ----

  /// Users, folders, environment file, placeholder, directory security,
  /// certificates, and a check that every binding can be bound. Returns the
  /// events worth reporting.
  virtual std::vector<site_event> prepare_site(const site_plan& plan) = 0;
  /// Applies directory security again (after a file change); what it left alone.
  virtual std::vector<site_event> secure_site(const site_plan& plan) = 0;
  /// Removes the task's cgroup (killing what was left in it), the data dir
  /// and the pools' own users. What stayed.
  virtual std::vector<std::string> remove_site(const site_plan& plan) = 0;
  /// Removes the pools' own users unless a process of theirs runs; the ones that stayed.
  virtual std::vector<std::string> remove_pool_users(const site_plan& plan) = 0;
  /// A recovered site: false when its data dir is gone; else the environment
  /// kept beside it (not in Nomad's state) goes into `plan`.
  virtual bool load_site(site_plan& plan) = 0;
  /// The applications of `pool` as their web.config files say now (ports 0).
  virtual std::vector<app_runtime> read_pool_apps(const site_plan& plan, std::size_t pool) = 0;
  /// Renders and writes the pool's nginx configuration (its static applications).
  virtual void write_pool_conf(const site_plan& plan, std::size_t pool,
                               const std::vector<app_runtime>& apps) = 0;
  /// Renders and writes the configuration of front `generation` from every pool's routes.
  virtual void write_front_conf(const site_plan& plan, const std::vector<pool_routes>& routes,
                                std::uint32_t generation) = 0;

  // ---- node websites (iis/website.hpp): `website` is plan_website()'s plan ----

  /// Folders, certificates, configuration, a bind check; fragments of tasks
  /// not in `member_keys` go. Only while the website's nginx does not run.
  virtual std::vector<site_event> prepare_website(const site_plan& website,
                                                  const std::vector<std::string>& member_keys) = 0;
  /// Writes (`task` set) or removes a task's fragments, checked with
  /// `nginx -t`; a refused change is undone and thrown (invalid_config).
  virtual void update_website_member(const site_plan& website, const std::string& key,
                                     const site_plan* task,
                                     const std::vector<pool_routes>& routes) = 0;
  /// The website's log files, opened as its nginx's stdout and stderr.
  virtual output_fds open_website_logs(const site_plan& website) = 0;
  /// The website's nginx master, if one runs in its folder.
  virtual process_ref running_website_master(const site_plan& website) = 0;

  // ---- how the site's processes start, and what they left ----

  /// How an nginx instance of the site starts (output fds left to the
  /// caller); `listener` >= 0 is handed over as fd 3 (NGINX="3;").
  virtual spawn_request nginx_request(const site_plan& plan, const std::string& instance,
                                      int listener) = 0;
  virtual app_launch app_request(const site_plan& plan, const app_runtime& app,
                                 std::int32_t port) = 0;
  /// Records a started application ("pid start_ticks port") for recoveries.
  virtual void record_app(const site_plan& plan, std::size_t app, const process_ref& process,
                          std::int32_t port) = 0;
  /// Writes or removes the marker of a pool whose content the front serves
  /// (how a recovery tells that from a pool whose nginx died). Quick.
  virtual void persist_front_serves(const site_plan& plan, std::size_t pool, bool serves) = 0;
  virtual bool front_serves_marked(const site_plan& plan, std::size_t pool) = 0;
  /// Writes or removes the pool's stopped marker.
  virtual void persist_pool_stopped(const site_plan& plan, std::size_t pool, bool stopped) = 0;
  virtual bool pool_stopped_marked(const site_plan& plan, std::size_t pool) = 0;
  /// The pool's nginx master as its pid file names it, if that process is an
  /// nginx master working in this site's folder.
  virtual process_ref running_pool_master(const site_plan& plan, std::size_t pool) = 0;
  /// The application process its pid file names and its port, if alive.
  virtual std::optional<std::pair<process_ref, std::int32_t>> running_app(const site_plan& plan,
                                                                          std::size_t app) = 0;

  // ---- logs ----

  /// The task's log FIFOs opened for writing without blocking: empty fds
  /// while nobody reads them yet. Quick.
  virtual void try_open_outputs(const site_plan& plan, output_fds& fds) = 0;
  /// A reader of the FIFO at `path`, so that nginx's open of it never blocks. Quick.
  virtual unique_fd hold_fifo_reader(const std::string& path) = 0;
  /// Keeps an nginx alert log short.
  virtual void trim_log(const std::string& log_path) = 0;
  /// The last [emerg] line of an nginx alert log ("" = none).
  virtual std::string last_emergency(const std::string& log_path) = 0;
  /// OOM kills so far in the cgroup of `instance` ("front", a pool's
  /// instance); 0 when the site has no cgroup. Quick.
  virtual std::uint64_t oom_kills(const site_plan& plan, const std::string& instance) = 0;
  /// Why nginx says its worker `pid` exited ("" = it does not say).
  virtual std::string worker_exit_reason(const std::string& log_path, std::int32_t pid) = 0;
  /// True (once) when the pool's access marker at `path` saw a request since
  /// the last call.
  virtual bool take_activity(const std::string& path) = 0;
  /// Counts the front's request log from where the last count stopped and
  /// keeps the new totals beside it; frees the disk space of what it read.
  /// One call at a time per site.
  virtual request_totals count_requests(const site_plan& plan) = 0;
  /// Reads the front's open-requests log on from `state` (front_status.hpp);
  /// requests of workers under none of `front_masters` are dropped.
  virtual void read_open_requests(const site_plan& plan,
                                  const std::vector<process_ref>& front_masters,
                                  open_requests& state) = 0;
  /// The client connections of front `generation` by state (its
  /// stub_status, reachable by the plugin only); nullopt when it does not answer.
  virtual std::optional<connection_counts> front_connections(const site_plan& plan,
                                                             std::uint32_t generation) = 0;

  // ---- the front's generations (front_generations.hpp) ----

  /// A new member of each binding address's listen group, in the front
  /// configuration's order. Throws backend_error naming the binding.
  virtual std::vector<unique_fd> join_front_groups(const site_plan& plan) = 0;
  /// Steering that sends the new connections of the groups of `members`
  /// to `members`, whatever other members the groups hold: one map per
  /// group, in order. Blocking (a restarted plugin's maps let go late).
  virtual std::vector<unique_fd> attach_front_steering(const std::vector<int>& members) = 0;
  /// From now on the groups `maps` steer send new connections to `members`. Quick.
  virtual void steer_front_groups(const std::vector<int>& maps,
                                  const std::vector<int>& members) = 0;
  /// Connections the kernel queued on `members` that no nginx accepted yet. Quick.
  virtual std::size_t queued_front_connections(const std::vector<int>& members) = 0;
  /// Handshakes open on the ports of `members`, whichever member they began
  /// on (listen_group.hpp). Quick; throws backend_error.
  virtual std::size_t handshaking_front_connections(const std::vector<int>& members) = 0;
  /// How front `generation` starts on `members` (output fds left to the
  /// caller), in the cgroup of `served_pool` when it serves one.
  virtual spawn_request front_request(const site_plan& plan, std::uint32_t generation,
                                      const std::vector<int>& members,
                                      std::optional<std::size_t> served_pool) = 0;
  /// The site's running front generations, oldest first.
  virtual std::vector<front_generation> running_front_generations(const site_plan& plan) = 0;
  /// Copies of the members a running generation's master listens on; empty
  /// for a front that is not on listen groups (an earlier release's).
  virtual std::vector<unique_fd> take_front_members(const site_plan& plan,
                                                    const process_ref& master) = 0;

  // ---- sockets ----

  /// nullopt when `ip`:`port` can be bound now; else why not (port_in_use, ...).
  virtual std::optional<failure> check_bindable(const std::string& ip, std::int32_t port) = 0;
  /// A loopback port free now.
  virtual std::int32_t pick_loopback_port() = 0;
  /// A listening unix socket at `dir`/`bound_name`, renamed to `public_name`.
  virtual unique_fd listen_unix(const std::string& dir, const std::string& bound_name,
                                const std::string& public_name, int backlog) = 0;
  virtual void remove_socket_file(const std::string& dir, const std::string& name) = 0;
  /// Holds `port` on loopback so nothing else takes it while the app is down.
  virtual unique_fd reserve_tcp_port(std::int32_t port) = 0;
  /// Connections the processes hold open on the unix socket `bound_name`.
  virtual std::size_t open_unix_connections(const std::vector<process_ref>& processes,
                                            const std::string& bound_name) = 0;
  /// Connections open to a loopback `port`.
  virtual std::size_t open_tcp_connections(std::int32_t port) = 0;
  /// Connections waiting in the accept queues of the listeners on `port`.
  virtual std::size_t queued_tcp_connections(std::int32_t port) = 0;
  /// Connections waiting to be accepted on the listening unix socket `name`
  /// (relative to the data dir): requests held for a pool.
  virtual std::uint64_t queued_connections(const site_plan& plan, const std::string& name) = 0;

  // ---- socket keepers (launcher::start_keeper starts them) ----

  /// Takes the site's lock shared; the descriptor holds it until closed.
  virtual unique_fd hold_site_lock(const std::string& lock_path) = 0;
  /// The live process recorded at `record_path` (the keeper, or the nginx it became).
  virtual std::optional<process_ref> recorded_keeper(const std::string& record_path) = 0;
  /// The socket held by the keeper recorded at `record_path`, duplicated into this process.
  virtual std::optional<kept_socket> take_back_socket(const std::string& record_path) = 0;
  /// Kills the keeper recorded at `record_path` (if it runs) and removes the record.
  virtual void stop_keeper(const std::string& record_path) = 0;
};

}  // namespace nomad_iis::iis
