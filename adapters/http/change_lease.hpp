#pragma once
// A file change holds its task (begin_change ... end_change) for as short
// as possible: only around the swap, never while a body is received.

#include <cstdint>
#include <string>
#include <vector>

#include "adapters/http/task_client.hpp"

namespace nomad_iis::http {

class change_lease {
 public:
  /// Waits for the task's turn; with stop_pools the pools serving `path` stop.
  change_lease(task_client& client, const task_ref& task, const std::string& path, bool stop_pools)
      : client_(client), task_(task) {
    auto ticket = client_.begin_change(task_, path, stop_pools);
    id_ = ticket.id;
    stopped_ = std::move(ticket.stopped_pools);
    held_ = true;
  }
  /// Releases the task, restoring the pools it stopped; throws on failure.
  void finish() {
    held_ = false;
    client_.end_change(task_, id_);
  }
  ~change_lease() {
    if (!held_) return;
    try {
      client_.end_change(task_, id_);
    } catch (...) {  // the lease expires by itself
    }
  }
  change_lease(const change_lease&) = delete;
  change_lease& operator=(const change_lease&) = delete;

  const std::vector<std::string>& stopped_pools() const { return stopped_; }

 private:
  task_client& client_;
  const task_ref& task_;
  std::uint64_t id_ = 0;
  std::vector<std::string> stopped_;
  bool held_ = false;
};

}  // namespace nomad_iis::http
