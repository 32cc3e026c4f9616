#pragma once
// Steps of a request actor: work handed to the tool workers (browsers and
// dumps; actors/blocking.hpp), whose continuation runs back on the actor and
// whose exception becomes the request's answer, and a streamed answer fed
// block by block from wherever its bytes come (a worker, the task's actor).

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

/// Runs `work` on a tool worker, then `then(value)` on `self`.
template <class T, class Work, class Then>
void on_worker(request_actor* self, Work work, Then then) {
  off_thread<T>(self, self->state.ctx->tools, std::move(work),
                [self, then = std::move(then)](job_result<T> r) mutable {
                  if (!r.ok()) return answer_failure(self, thrown_by(r));
                  guarded(self, [&] { then(std::move(*r.value)); });
                });
}

/// Fetches up to `max` bytes of a streamed answer and calls `got` with them
/// on the actor ("" at the end); a failure it answers itself
/// (answer_failure cuts the connection once the answer started).
using block_source = std::function<void(std::size_t max, std::function<void(std::string)> got)>;

/// Streams the answer: `head`, then the blocks of `next` until an empty one.
/// `release` (may be empty) runs on a tool worker at the end, also when the
/// client went away, and ends what the blocks came from.
void stream_out(request_actor* self, stream_head head, block_source next,
                std::function<void()> release);

/// Runs `release` on a tool worker, answering nobody (a finished stream's
/// source is removed there, never on an actor's thread).
void release_on_worker(request_actor* self, std::function<void()> release);

}  // namespace nomad_iis::http
