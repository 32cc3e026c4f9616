#pragma once
// A client of Chromium's DevTools protocol over --remote-debugging-pipe: the
// browser reads commands from its fd 3 and writes answers and events to its
// fd 4, each message one JSON text ended by a NUL byte. Every call waits at
// most until one deadline, the screenshot's time limit.

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include <rapidjson/document.h>

#include "common/unique_fd.hpp"

namespace nomad_iis::inspect {

/// The browser answered a command with an error.
struct devtools_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The browser closed the pipe (it exited or crashed).
struct devtools_closed : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The deadline passed.
struct devtools_timeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class devtools_pipe {
 public:
  using clock = std::chrono::steady_clock;

  devtools_pipe(unique_fd to_browser, unique_fd from_browser, clock::time_point deadline);

  /// Sends `method` with `params` (a JSON object's text) to `session` (""
  /// for the browser itself) and returns the answer's "result" object.
  rapidjson::Document call(const std::string& method, const std::string& params = "{}",
                           const std::string& session = "");

  /// As call, but nullopt when `until` (earlier than the deadline) passes
  /// before the answer; an answer that comes later is ignored.
  std::optional<rapidjson::Document> call_until(const std::string& method,
                                                const std::string& params,
                                                const std::string& session,
                                                clock::time_point until);

  /// Waits for an event `method` of `session` not waited for before; false
  /// when `until` (earlier than the deadline) passes first.
  bool wait_event(const std::string& method, const std::string& session, clock::time_point until);

 private:
  /// The next message, nullopt when `until` passes first; throws at the
  /// deadline or when the browser is gone.
  std::optional<rapidjson::Document> read_message(clock::time_point until);
  /// Counts an event so a later wait_event finds it.
  void note_event(const rapidjson::Document& message);
  void write_all(const std::string& text);

  unique_fd to_browser_;
  unique_fd from_browser_;
  clock::time_point deadline_;
  std::string buffer_;
  std::size_t scanned_ = 0;  ///< bytes of buffer_ known to hold no NUL
  int next_id_ = 0;
  std::map<std::string, int> unseen_events_;  ///< session + "\n" + method -> count
};

}  // namespace nomad_iis::inspect
