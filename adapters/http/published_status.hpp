#pragma once
// GET .../status answered on the I/O thread from the status the task's
// actor published (actors/status_board.hpp): no actor is spawned or asked,
// so a poll costs what its parsing and writing cost. Whatever this path
// cannot answer with a 200 exactly as the task would (no publication yet,
// a usage sample older than the status window, any refusal) goes to a
// request actor instead, which asks the task; that read also publishes.

#include "adapters/http/api_context.hpp"
#include "adapters/http/exchange.hpp"

namespace nomad_iis::http {

/// Answers `head` on `ex` and returns true, or returns false having sent nothing.
bool serve_published_status(const api_context& ctx, exchange& ex, const request_head& head);

}  // namespace nomad_iis::http
