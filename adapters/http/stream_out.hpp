#pragma once
// A streamed answer of a request actor, fed block by block from wherever its
// bytes come (a download of the task's actor, a dump): each block is asked
// for once the one before is written, so a slow client holds one block.

#include <cstddef>
#include <functional>
#include <string>

#include "adapters/http/request_actor.hpp"

namespace nomad_iis::http {

/// Fetches up to `max` bytes of a streamed answer and calls `got` with them
/// on the actor ("" at the end); a failure it answers itself
/// (answer_failure cuts the connection once the answer started).
using block_source = std::function<void(std::size_t max, std::function<void(std::string)> got)>;

/// Streams the answer: `head`, then the blocks of `next` until an empty one.
/// The actor ends after the last block or when the client went away (the
/// source learns it when the actor is gone).
void stream_out(request_actor* self, stream_head head, block_source next);

}  // namespace nomad_iis::http
