#pragma once
// One `nomad alloc exec` command: started on the shared blocking workers
// (fork/exec), then pumped on a worker of its own for as long as it runs
// (the command may wait for input for hours; no shared worker is held).
// Its task spawns it with the resolved request and delegates exec_open's
// answer to it. It monitors its client and its task: when either goes away,
// or when it ends itself, the command is killed.

#include <memory>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "iis/exec.hpp"
#include "iis/launcher.hpp"

namespace nomad_iis {

struct exec_session_state {
  std::shared_ptr<iis::exec_process> process;
  caf::actor client;
  caf::actor pump_worker;

  /// Whatever ends the session ends the command.
  ~exec_session_state() {
    if (process) process->cancel();
  }

  static inline const char* name = "exec_session";
};

using exec_session_ptr = caf::stateful_actor<exec_session_state>*;

/// Starts on exec_begin (answered with exec_opened, or the start's error).
caf::behavior exec_session(exec_session_ptr self, std::shared_ptr<iis::launcher> launcher,
                           caf::actor workers, caf::actor task, caf::actor client,
                           iis::exec_request request);

}  // namespace nomad_iis
