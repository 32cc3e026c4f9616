#pragma once
// The task actor's order of operations: one runs at a time, the rest wait
// in the order they came (task_actor.cpp keeps the queue in its state).

#include <functional>
#include <optional>

#include "actors/task_site.hpp"

namespace nomad_iis::task_queue {

/// Runs `work` (which normally calls run_op) now, or once the operation in
/// flight and those queued before it are done.
void enqueue(task_actor_ptr self, std::function<void()> work);

/// Runs `op` (which starts one operation and calls its `done` once, on the
/// task actor's thread) and then `then`. Only while no operation runs: from
/// enqueue's `work`.
void run_op(task_actor_ptr self, std::function<void(site::done_fn)> op,
            std::function<void(std::optional<iis::failure>)> then);

}  // namespace nomad_iis::task_queue
