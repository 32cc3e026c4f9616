#pragma once
// The exec port on Linux: the command starts in its own session as the
// pool's user, on a pty (which becomes its controlling terminal) or on
// three pipes, and the launcher's process_monitor (its one epoll thread)
// says when those have bytes, take bytes, or the command has ended.

#include <memory>

#include "iis/exec.hpp"

namespace nomad_iis::iis {

class process_monitor;

/// Resolves the account and the executable, then starts the command.
/// Throws backend_error: invalid_config for an unknown user, not_found for a
/// command the user cannot run; process_failed when it cannot start.
/// Blocking (fork/exec): not for an actor's thread. `monitor` watches its
/// descriptors and its end.
std::shared_ptr<exec_process> start_exec_process(const exec_request& request,
                                                 std::shared_ptr<process_monitor> monitor);

}  // namespace nomad_iis::iis
