#pragma once
// The port through which the actors touch the processes and sockets of a
// site. One interface, so the actor tests run the pool flows on a fake (no
// processes, virtual time) and the product on Linux (fork/exec, pidfds,
// /proc).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "iis/exec.hpp"
#include "iis/model.hpp"
#include "iis/process_types.hpp"

namespace nomad_iis::iis {

/// Cumulative CPU time and current memory of one process.
struct process_usage {
  std::int32_t pid = 0;
  std::uint64_t user_ticks = 0;    ///< utime, clock ticks
  std::uint64_t system_ticks = 0;  ///< stime, clock ticks
  std::uint64_t rss_bytes = 0;
};

/// What a keeper needs besides its socket.
struct keeper_spec {
  std::string record_path;  ///< "pid start_ticks", a *.pid file of the site's run dir
  std::string title;        ///< its argv[0], what ps shows
  /// Held shared by the plugin while it owns the site: free means gone.
  std::string lock_path;
  /// Static pools: the pool's nginx, run by the keeper itself when a
  /// request waits and no plugin holds the lock. nullopt: hold only.
  std::optional<spawn_request> activate;
  std::string activate_pid_file;  ///< that nginx's pid file: it already runs
  std::string stdout_path;        ///< the task's log FIFOs, for that nginx
  std::string stderr_path;
};

class launcher {
 public:
  virtual ~launcher() = default;

  /// Starts a process (fork/exec). May take milliseconds: call it from a
  /// blocking worker, never from an actor's own thread.
  virtual process_ref spawn(const spawn_request& request) = 0;

  /// Starts a command of `nomad alloc exec` (exec.hpp); blocking like spawn().
  virtual std::shared_ptr<exec_process> start_exec(const exec_request& request) = 0;

  /// Starts a socket keeper that holds `fd` (socket_keeper.hpp); blocking like spawn().
  virtual process_ref start_keeper(int fd, const keeper_spec& spec) = 0;

  /// Signals exactly the process `process` names; false when it is gone.
  virtual bool signal(const process_ref& process, int signal) = 0;
  virtual bool alive(const process_ref& process) = 0;
  /// Live children (the workers of an nginx master).
  virtual std::vector<process_ref> children(const process_ref& parent) = 0;
  /// Live processes still in the group `leader` started that work in `cwd`
  /// (its nginx workers after the master died). Walks /proc: call from a
  /// blocking worker.
  virtual std::vector<process_ref> group_members(const process_ref& leader,
                                                 const std::string& cwd) = 0;
  /// An nginx worker of an old generation ("worker process is shutting down").
  virtual bool shutting_down(const process_ref& worker) = 0;
  /// CPU time and memory (stats, Management API status); nullopt when gone.
  virtual std::optional<process_usage> usage(const process_ref& process) = 0;
  /// Memory only this process holds, in bytes (IIS's private bytes; a pool's
  /// private_memory_limit); nullopt when gone. Reads /proc: quick.
  virtual std::optional<std::uint64_t> private_bytes(const process_ref& process) = 0;

  virtual bool accepts_tcp(const std::string& ip, std::int32_t port) = 0;
  /// `name` relative to `dir` (the site's data dir).
  virtual bool accepts_unix(const std::string& dir, const std::string& name) = 0;

  /// Calls `on_exit` once when the process ends. It runs on another thread
  /// and must only send a message. Returns an id for unwatch().
  virtual std::uint64_t watch_exit(const process_ref& process,
                                   std::function<void(exit_status)> on_exit) = 0;
  /// Calls `on_ready` once when `fd` (a listening socket) has a connection
  /// waiting; same thread rules. The fd stays the caller's: unwatch first.
  virtual std::uint64_t watch_readable(int fd, std::function<void()> on_ready) = 0;
  virtual void unwatch(std::uint64_t id) = 0;
};

/// fork/exec, pidfds and one epoll thread for every site's exits and sockets.
std::shared_ptr<launcher> make_linux_launcher();

}  // namespace nomad_iis::iis
