#pragma once
// One `nomad alloc exec` command: started on the shared blocking workers
// (fork/exec), then driven by readiness: the launcher's one watch thread
// says when the command's output has bytes, its input takes more or it has
// ended, and the session does the (non-blocking) reads and writes on its
// own turn, so a thousand idle shells cost no threads. Its output is
// credited (messages/exec.hpp): with msg::exec_output_credit chunks
// unacknowledged it stops reading and the command waits on a full pipe.
// Its task spawns it with the resolved request and delegates exec_open's
// answer to it. It monitors its client and its task: when the client goes
// the command is killed; when the task stops (exec_end) or goes, it is
// killed too and the client gets its end.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include "iis/exec.hpp"
#include "iis/launcher.hpp"

namespace nomad_iis {

struct exec_session_state {
  /// Dropping it drops its watches and kills what is left of its group.
  std::shared_ptr<iis::exec_process> process;
  caf::actor client;  ///< empty once it went: nothing more is read or sent
  caf::actor_addr task;

  /// An output stream: open until its end; armed while a watch waits for it.
  struct stream {
    bool open = true;
    bool armed = false;
  };
  stream out, err;
  std::size_t in_flight = 0;       ///< exec_output not yet acknowledged
  bool input_armed = false;        ///< input queued, waiting for the command to take it
  std::uint32_t inputs_taken = 0;  ///< exec_input in the pipe, not yet acknowledged
  /// How the command ended; its output is then read to the end (or to what
  /// is there: something it left running may hold it open), then exec_exited.
  std::optional<iis::exit_status> exited;

  static inline const char* name = "exec_session";
};

using exec_session_ptr = caf::stateful_actor<exec_session_state>*;

/// Starts on exec_begin (answered with exec_opened, or the start's error).
caf::behavior exec_session(exec_session_ptr self, std::shared_ptr<iis::launcher> launcher,
                           caf::actor workers, caf::actor task, caf::actor client,
                           iis::exec_request request);

}  // namespace nomad_iis
