#pragma once
// One thread for all sites that learns of process exits without polling:
// a pidfd per watched process in one epoll set. Our own children are reaped
// here (waitid on the pidfd) so they never linger as zombies; a recovered
// process is not our child and ends with an unknown status.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "iis/executor.hpp"
#include "iis/model.hpp"
#include "iis/process.hpp"

namespace nomad_iis::iis {

class process_monitor {
 public:
  using callback = std::function<void(exit_status)>;

  /// Callbacks are posted to `runner`, never run on the monitor thread.
  explicit process_monitor(std::shared_ptr<executor> runner);
  ~process_monitor();
  process_monitor(const process_monitor&) = delete;
  process_monitor& operator=(const process_monitor&) = delete;

  /// Calls `on_exit` once when `process` ends (soon, if it already has or its
  /// PID now names another process). Returns an id for unwatch().
  std::uint64_t watch(const process_ref& process, callback on_exit);

  /// Forgets a watch; its callback may still run if the exit raced with this.
  void unwatch(std::uint64_t id);

  /// Number of live watches (for tests and the debug endpoint).
  std::size_t size() const;

 private:
  struct entry {
    int pidfd = -1;
    process_ref process;
    callback on_exit;
  };

  void run();
  void finish(std::uint64_t id);

  std::shared_ptr<executor> runner_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  ///< eventfd that ends run()
  mutable std::mutex mutex_;
  std::map<std::uint64_t, entry> entries_;
  std::uint64_t next_id_ = 1;
  std::thread thread_;
};

}  // namespace nomad_iis::iis
