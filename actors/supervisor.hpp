#pragma once
// The driver supervisor answers Nomad's lifecycle RPCs: it maps task IDs to
// task actors, spawns them on StartTask/RecoverTask and delegates every other
// request to the task's own actor, relaying its reply.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/status_board.hpp"
#include "actors/task_actor.hpp"
#include "config/driver_config.hpp"
#include "iis/backend.hpp"
#include "iis/inspect/inspector.hpp"
#include "messages/management.hpp"

namespace nomad_iis {

struct supervisor_state {
  /// What every task actor gets; the backend and the blocking workers are
  /// the supervisor's own too.
  site_services services;
  caf::actor hub;
  caf::actor fingerprinter;
  config::driver_config driver;
  std::map<std::string, caf::actor> tasks;          ///< task id -> task actor
  std::map<caf::actor_addr, std::string> task_ids;  ///< for down messages
  /// What each task told us about itself (set once its site runs).
  std::map<std::string, msg::task_summary> summaries;
  /// Spawn order per task id: among tasks of one alloc and name, the newest wins.
  std::map<std::string, std::uint64_t> spawn_seq;
  std::uint64_t next_seq = 0;
  /// Each task's status cell, and the board mapping (alloc, task name) to
  /// the newest task's one: the supervisor is the board's only writer.
  std::map<std::string, std::shared_ptr<status_cell>> status_cells;
  std::shared_ptr<status_board> board;
  static inline const char* name = "supervisor";
};

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self, site_services services,
                         caf::actor hub, caf::actor fingerprinter,
                         std::shared_ptr<status_board> board);

/// The actors the adapters talk to.
struct driver_actors {
  caf::actor workers;
  caf::actor file_workers;
  caf::actor tool_workers;
  caf::actor supervisor;
  caf::actor hub;
  caf::actor fingerprinter;
  /// The tasks' published statuses (status_board.hpp), for the Management API.
  std::shared_ptr<status_board> statuses;
  caf::actor websites;  ///< the node websites (website_actor.hpp)

  /// Every one of them, for whoever ends them (the blocking workers run on
  /// threads of their own: an actor system waits for them).
  std::vector<caf::actor> all() const {
    return {fingerprinter, hub, supervisor, websites, workers, file_workers, tool_workers};
  }
};

/// Blocking workers the driver's actors share (fork/exec, file system).
constexpr std::size_t blocking_workers = 4;
/// Blocking workers for the tasks' Management API file steps.
constexpr std::size_t file_workers = 4;
/// Blocking workers for browsers and dumps (each kind behind a gate of its
/// own: off_thread_gated), so a long dump never delays a file step.
constexpr std::size_t tool_workers = 4;

/// Spawns the blocking workers, hub, fingerprinter and supervisor for
/// `backend`, the tasks looking inside themselves with `inspector`.
/// `detached_workers` = false runs the workers on CAF's scheduler (the actor
/// tests' deterministic coordinator).
driver_actors spawn_driver(caf::actor_system& sys, std::shared_ptr<iis::backend> backend,
                           bool detached_workers = true, inspect::inspector inspector = {});

/// Registers the project's message types and error category.
void configure_actor_system(caf::actor_system_config& cfg);

}  // namespace nomad_iis
