#pragma once
// The exec port on Linux: the command starts in its own session as the
// pool's user, on a pty (which becomes its controlling terminal) or on
// three pipes, and one poll() loop moves its bytes.

#include <memory>

#include "iis/exec.hpp"

namespace nomad_iis::iis {

/// Resolves the account and the executable, then starts the command.
/// Throws backend_error: invalid_config for an unknown user, not_found for a
/// command the user cannot run; process_failed when it cannot start.
/// Blocking (fork/exec): not for an actor's thread.
std::shared_ptr<exec_process> start_exec_process(const exec_request& request);

}  // namespace nomad_iis::iis
