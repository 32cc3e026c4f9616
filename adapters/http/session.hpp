#pragma once
// One client connection of the Management API, plain or TLS, on Boost.Beast.
// It reads a request's header block (the slow-header deadline runs from its
// first byte), checks it, hands it to the request sink and reads nothing
// more until the answer is written: requests on one connection are served
// in order, and a client that does not read its answers stops being read.
// Requests that cannot be read get the API's JSON error and a closed
// connection. No thread waits here: every step is an asynchronous operation
// on the connection's own I/O thread.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "adapters/http/client_limits.hpp"
#include "adapters/http/exchange.hpp"

namespace nomad_iis::http {

/// A connection's socket, bound to its I/O thread's context (no
/// type-erased executor on every operation).
using connection_socket =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

/// Limits and timeouts every connection applies (copied at accept).
struct session_limits {
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  /// An idle keep-alive connection closes after this.
  std::chrono::milliseconds keep_alive_timeout = std::chrono::seconds(10);
  /// Between pieces of a body, and for each write.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
  std::size_t max_requests = 10000;  ///< per connection
  std::size_t max_target = 16 << 10;
  std::size_t max_field_name = 256;
  std::size_t max_field_value = 8 << 10;
  std::size_t max_fields = 100;
};

/// The connections open now, so the server can end them all when it stops.
class session_registry;

/// Serves the accepted `socket` until it closes; the connection keeps `io`
/// (its socket's context) alive. `tls` is null for plain HTTP. `slot` is the
/// client's connection slot, given back on close.
void serve_connection(connection_socket socket, std::shared_ptr<boost::asio::io_context> io,
                      boost::asio::ssl::context* tls, session_limits limits,
                      std::shared_ptr<client_slot> slot, std::string client, request_sink sink,
                      std::shared_ptr<session_registry> registry);

/// Registers open connections; close_all ends them (idle ones too) and
/// every one accepted later.
std::shared_ptr<session_registry> make_session_registry();
void close_all(session_registry& registry);

}  // namespace nomad_iis::http
