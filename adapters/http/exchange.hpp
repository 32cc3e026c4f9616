#pragma once
// One request as the Management API's adapter actors see it: its head, and
// the connection to answer on. Every call returns at once; completions run
// on an I/O thread and must only hand a message to an actor.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nomad_iis::http {

/// What the server parsed and checked of a request's header block.
struct request_head {
  std::string method;
  std::string target;  ///< as sent: path plus query, not decoded
  std::optional<std::string> api_key;
  std::optional<std::string> authorization;
  std::string if_none_match;  ///< for the dashboard's files (ui.cpp)
  std::string content_type;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  std::string client;  ///< the peer's IP address
};

/// A response whose body is known at once.
struct response {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// The start of a response whose body follows in chunks: with a length
/// when it is known, else chunked.
struct stream_head {
  int status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::uint64_t> length;
};

/// A piece of the request body: `end` after the last one; `failed` when the
/// body cannot be read to its end (the client went, or sent garbage).
struct body_piece {
  std::string bytes;
  bool end = false;
  bool failed = false;
};

/// Every completion is called exactly once, also when the connection closes
/// or the server stops meanwhile (then with failure).
class exchange {
 public:
  virtual ~exchange() = default;
  /// Sends `r`; then the connection reads the next request, or closes when
  /// the body was not read to its end or keep-alive is over.
  virtual void respond(response r) = 0;
  /// Reads up to `max` more bytes of the body.
  virtual void read_body(std::size_t max, std::function<void(body_piece)> done) = 0;
  /// Sends a stream's head; `done(false)` when the client is gone.
  virtual void start_stream(stream_head head, std::function<void(bool)> done) = 0;
  virtual void write_chunk(std::string bytes, std::function<void(bool)> done) = 0;
  /// Ends the stream; the connection goes on as after respond().
  virtual void end_stream() = 0;
  /// Cuts the connection: a client told nothing else learns the response
  /// is incomplete.
  virtual void abort() = 0;
  /// Whether the connection is closed (the client went, or the server stopped).
  virtual bool gone() const = 0;
};

/// Where the server hands each request; called on an I/O thread.
using request_sink = std::function<void(std::shared_ptr<exchange>, request_head)>;

}  // namespace nomad_iis::http
