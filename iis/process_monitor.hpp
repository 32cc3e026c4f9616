#pragma once
// One thread for all sites that learns of process exits without polling:
// a pidfd per watched process in one epoll set. Our own children are reaped
// here (waitid on the pidfd) so they never linger as zombies; a recovered
// process is not our child and ends with an unknown status. The same epoll
// set also reports pending connections on the listening sockets of idle
// application pools (socket activation) and the pipes of exec'd commands,
// so 200 idle sites or 100 script checks cost no threads.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "iis/model.hpp"
#include "iis/process.hpp"

namespace nomad_iis::iis {

class process_monitor {
 public:
  using callback = std::function<void(exit_status)>;

  /// Callbacks run on the monitor thread (or, for a process already gone,
  /// on the caller's): they must only send a message.
  process_monitor();
  ~process_monitor();
  process_monitor(const process_monitor&) = delete;
  process_monitor& operator=(const process_monitor&) = delete;

  /// Calls `on_exit` once when `process` ends (soon, if it already has or its
  /// PID now names another process). Returns an id for unwatch().
  std::uint64_t watch(const process_ref& process, callback on_exit);

  /// Calls `on_ready` once when `fd` becomes readable (a listening socket: a
  /// connection waits). The fd stays the caller's: unwatch() before closing it.
  std::uint64_t watch_readable(int fd, std::function<void()> on_ready);
  /// Calls `on_ready` once when `fd` takes a write (or its reader is gone);
  /// the same rules as watch_readable().
  std::uint64_t watch_writable(int fd, std::function<void()> on_ready);

  /// Forgets a watch; its callback may still run if the event raced with this.
  void unwatch(std::uint64_t id);

  /// Number of live watches (for tests and the debug endpoint).
  std::size_t size() const;

 private:
  struct entry {
    int fd = -1;      ///< in the epoll set: `pidfd`, or the caller's for watch_readable()
    unique_fd pidfd;  ///< ours, for watch()
    process_ref process;
    callback on_exit;
    std::function<void()> on_ready;  ///< set for watch_readable() and watch_writable()
  };

  /// One-shot watch of `fd` for `events` (EPOLLIN or EPOLLOUT).
  std::uint64_t watch_fd(int fd, std::uint32_t events, std::function<void()> on_ready);
  void run();
  void finish(std::uint64_t id);

  unique_fd epoll_fd_;
  unique_fd wake_fd_;  ///< eventfd that ends run()
  mutable std::mutex mutex_;
  std::map<std::uint64_t, entry> entries_;
  std::uint64_t next_id_ = 1;
  std::thread thread_;
};

}  // namespace nomad_iis::iis
