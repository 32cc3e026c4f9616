#pragma once
// The Management API's hot path is a keep-alive client polling a task's
// status. The reactor answers those requests without a connection thread;
// this file decides from the bytes waiting on a socket whether they start
// such a request (complete, GET .../status, nothing the thread path would
// answer differently, credentials that reach the allocation) and writes the
// answer. Anything else is left to the thread path, bytes unread.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/http/auth.hpp"

namespace nomad_iis::http {

struct status_answer;

/// A recognised status request.
struct status_poll {
  /// The request's length on the wire (it has no body).
  std::size_t request_bytes = 0;
  /// (alloc id, task name), decoded.
  std::pair<std::string, std::string> task;
  /// The request target, for logs.
  std::string path;
  principal who;
};

/// What the reactor does with the bytes a connection has sent so far.
struct request_verdict {
  enum class action {
    wait,       ///< the header block is not complete yet
    refuse,     ///< answer `status` with the JSON error, then close
    answer,     ///< a status poll this path answers: `poll`
    to_thread,  ///< a complete header block a connection thread serves
  };
  action what = action::wait;
  std::optional<status_poll> poll;
  int status = 0;
  std::string code;
  std::string message;
};

/// Judges the request at the start of `bytes`: waits for its whole header
/// block (at most `max_head` bytes, else 431), refuses ambiguous framing
/// (framing.hpp, 400), answers status polls here and leaves every other
/// request, and whatever Poco's parser rejects, to a thread.
request_verdict judge_request(std::string_view bytes, std::size_t max_head,
                              const authenticator& auth, std::chrono::system_clock::time_point now);

/// The status request at the start of `bytes`, or nullopt when they do not
/// start with one this path may answer: incomplete, malformed, another
/// route, a body, Connection: close, a query, or credentials that fail or
/// do not reach the allocation (the thread path gives those their answer).
std::optional<status_poll> recognize_status_poll(std::string_view bytes, const authenticator& auth,
                                                 std::chrono::system_clock::time_point now);

/// The HTTP/1.1 response for `poll` (the body send_json would send), or
/// nullopt when the task is outside the caller's namespace or job claims.
/// `date` is the Date header's value; `keep_alive` false ends the connection.
std::optional<std::string> status_poll_response(const status_poll& poll,
                                                const status_answer& answer,
                                                const std::string& date, bool keep_alive);

/// An HTTP Date header value for `now`, formatted at most once a second.
class http_date_clock {
 public:
  const std::string& now();

 private:
  long long second_ = -1;  ///< the Unix second text_ shows
  std::string text_;
};

}  // namespace nomad_iis::http
