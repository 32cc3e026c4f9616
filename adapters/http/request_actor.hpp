#pragma once
// The HTTP adapter actor: one per request. It authenticates the request,
// routes it, asks the supervisor and the task's actor by message (file
// operations, screenshots and dumps too: the task does them, this actor
// moves their bytes), and writes the answer when the replies arrive. No
// thread waits for it: a pool stop that drains for minutes or a dump that
// waits for its gate holds a mailbox entry, not a thread.

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/timeouts.hpp"
#include "adapters/http/api_context.hpp"
#include "adapters/http/exchange.hpp"
#include "adapters/http/router.hpp"
#include "messages/files.hpp"
#include "messages/management.hpp"

namespace nomad_iis::http {

/// A piece of the body arrived (or the body failed), as a message.
struct body_arrived {
  body_piece piece;
};

/// A write of a streamed answer finished.
struct chunk_written {
  bool ok = false;
};

struct request_state {
  std::shared_ptr<api_context> ctx;
  std::shared_ptr<exchange> ex;
  request_head head;
  std::chrono::steady_clock::time_point started;
  principal who;
  route_match route;
  std::multimap<std::string, std::string> query;
  msg::found_task task;
  /// What the next body piece or finished write goes to.
  std::function<void(body_piece)> on_body;
  std::function<void(bool)> on_written;
  /// Whether the answer is on its way (a failure after it cuts the connection).
  bool answered = false;
  /// Whether a route matched (the metrics name it), and whether the answer
  /// was counted in them.
  bool routed = false;
  bool counted = false;
  static inline const char* name = "http_request";
};

using request_actor = caf::stateful_actor<request_state>;

/// Spawned by the request sink for each request.
caf::behavior request_behavior(request_actor* self, std::shared_ptr<api_context> ctx,
                               std::shared_ptr<exchange> ex, request_head head);

// ---- steps shared by the route files ----

/// Counts the request in the metrics (once; its status and time to answer).
void count_request(request_actor* self, int status);

/// Sends a JSON document (status 200 unless said) and ends the actor.
void answer_json(request_actor* self, std::string body, int status = 200);
/// Sends `r` and ends the actor.
void answer(request_actor* self, response r);
/// Answers the exception `e` (http_error, file errors, anything) as JSON, or
/// cuts the connection when the answer had started; ends the actor.
void answer_failure(request_actor* self, std::exception_ptr e);
/// answer_failure for an actor error (the error table's HTTP status).
void answer_error(request_actor* self, const caf::error& err);

/// Runs `step` and answers what it throws.
template <class F>
void guarded(request_actor* self, F&& step) {
  try {
    step();
  } catch (...) {
    answer_failure(self, std::current_exception());
  }
}

/// The query parameter `name` ("" when absent).
std::string query_value(const request_state& st, const std::string& name,
                        const std::string& fallback = {});
/// A true/false query parameter; throws 400 for anything else.
bool query_flag(const request_state& st, const std::string& name);
/// A number from `lo` to `hi`, or `fallback` when absent; throws 400.
int query_int(const request_state& st, const std::string& name, int fallback, int lo, int hi);
/// "2026-12-06-11-10-33" (UTC), for file names of screenshots and dumps.
std::string timestamp_now();

/// The task's site status (task dir, pools, bindings), then `next`.
void with_status(request_actor* self, std::function<void(msg::site_status)> next);

/// Sends `m` to the task; `then(reply)` on success, else the error as the
/// answer. File steps, screenshots and dumps may wait behind the task's
/// other operations or their gate, so they get the lifecycle's patience.
template <class Reply, class Message, class Then>
void ask_task(request_actor* self, Message m, Then then) {
  self->request(self->state.task.task, timeouts::lifecycle, std::move(m))
      .then([self, then = std::move(then)](Reply& r) mutable { guarded(self, [&] { then(r); }); },
            [self](caf::error& err) { answer_error(self, err); });
}

/// ask_task for a message answered with nothing.
template <class Message, class Then>
void tell_task(request_actor* self, Message m, Then then) {
  self->request(self->state.task.task, timeouts::lifecycle, std::move(m))
      .then([self, then = std::move(then)]() mutable { guarded(self, then); },
            [self](caf::error& err) { answer_error(self, err); });
}

/// Streams a download the task opened (a file, a folder as a zip, a dump),
/// asking it for each block.
void stream_download(request_actor* self, const msg::download_started& d);

// Routes, one file each.
void serve_files(request_actor* self);
void serve_screenshot(request_actor* self);
void serve_procdump(request_actor* self);

}  // namespace nomad_iis::http

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::http::body_arrived)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nomad_iis::http::chunk_written)
