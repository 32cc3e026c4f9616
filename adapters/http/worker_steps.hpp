#pragma once
// Steps a request actor hands to the blocking workers (actors/blocking.hpp):
// the work runs there, the continuation back on the actor, and what the work
// throws becomes the request's answer.

#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "actors/blocking.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/request_actor.hpp"

namespace nomad_iis::http {

/// What a failed job threw (a worker's own failure as a 500).
template <class T>
std::exception_ptr thrown_by(const job_result<T>& r) {
  return r.thrown ? r.thrown
                  : std::make_exception_ptr(http_error(500, "internal", r.error.message));
}

/// Runs `work` on a blocking worker, then `then(value)` on `self`.
template <class T, class Work, class Then>
void on_worker(request_actor* self, Work work, Then then) {
  off_thread<T>(self, self->state.ctx->workers, std::move(work),
                [self, then = std::move(then)](job_result<T> r) mutable {
                  if (!r.ok()) return answer_failure(self, thrown_by(r));
                  guarded(self, [&] { then(std::move(*r.value)); });
                });
}

/// Streams the answer: `head`, then the blocks `next_block(max)` reads on a
/// worker until it gives an empty one. `release` runs on a worker at the end,
/// also when the client went away, and ends what the blocks came from.
void stream_out(request_actor* self, stream_head head,
                std::function<std::string(std::size_t)> next_block, std::function<void()> release);

/// Runs `release` on a worker, answering nobody (a staging folder or a
/// finished stream's source is removed there, never on an actor's thread).
void release_on_worker(request_actor* self, std::function<void()> release);

}  // namespace nomad_iis::http
