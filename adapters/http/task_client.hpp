#pragma once
// Blocking requests from HTTP threads to the actors (caf::scoped_actor with
// the named timeouts). Actor errors become http_error with a fitting status.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "messages/management.hpp"

namespace caf {
class actor_system;
}

namespace nomad_iis::http {

/// A task's actor plus who the task is.
struct task_ref {
  caf::actor actor;
  msg::task_summary summary;
};

class task_client {
 public:
  task_client(caf::actor_system& sys, caf::actor supervisor);

  std::vector<msg::task_summary> list();
  msg::debug_info debug();
  /// Throws http_error 404 when the supervisor knows no such task.
  task_ref find(const std::string& alloc_id, const std::string& task_name);
  /// find + status in one request (the supervisor delegates it to the
  /// task's actor); the answer's summary says who the task is.
  msg::site_status find_status(const std::string& alloc_id, const std::string& task_name);
  /// find_status without waiting: `done` runs on an actor thread with the
  /// answer, or nullopt for any failure (the caller retries the blocking
  /// way to learn which). It must not block.
  void find_status_async(const std::string& alloc_id, const std::string& task_name,
                         std::function<void(std::optional<msg::site_status>)> done);
  msg::site_status status(const task_ref& task);
  void pools(const task_ref& task, msg::pool_op op, std::vector<std::string> pools);
  /// Waits for the task's turn (lifecycle timeout); the caller must end_change.
  msg::change_ticket begin_change(const task_ref& task, const std::string& path, bool stop_pools);
  void end_change(const task_ref& task, std::uint64_t id);

 private:
  caf::actor_system& sys_;
  caf::actor supervisor_;
};

}  // namespace nomad_iis::http
