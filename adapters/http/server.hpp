#pragma once
// The Management API's HTTP(S) server on Boost.Beast/Asio: a few I/O threads
// serve every connection asynchronously (an idle or slow client holds a
// descriptor, never a thread), each client (source address) may hold a
// limited number of connections, and every request goes to one sink.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "adapters/http/exchange.hpp"
#include "adapters/http/session.hpp"

namespace nomad_iis::http {

struct server_options {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 0;
  std::string tls_cert;  ///< PEM files; both set = HTTPS
  std::string tls_key;
  int io_threads = 2;
  session_limits limits;
  /// Open connections per source address; past it, new ones get 503.
  std::size_t max_connections_per_client = 512;
};

class http_server {
 public:
  http_server(server_options opts, request_sink sink);
  ~http_server();
  /// Binds and starts serving; throws std::runtime_error naming the problem.
  void start();
  /// Ends every connection and joins the I/O threads.
  void stop();
  /// The bound port (useful when options.port was 0).
  std::uint16_t port() const;
  /// Applies to requests whose headers start after the call.
  void set_header_timeout(std::chrono::milliseconds timeout);
  /// Applies to connections accepted after the call.
  void set_max_connections_per_client(std::size_t n);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nomad_iis::http
