#pragma once
// The Poco HTTP(S) server of the Management API: a thread per connection
// while a request is served, sized so 64 keep-alive clients are all served,
// with bounded keep-alive, idle timeouts and Poco's request/header size
// limits (answered in JSON by api_connection). Over plain HTTP the reactor
// accepts every connection and holds it until a request's headers are
// complete; it also answers status polls. Each client (source address) may
// hold a limited number of connections.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <Poco/Net/HTTPRequestHandlerFactory.h>

namespace Poco {
class ThreadPool;
namespace Net {
class ServerSocket;
class TCPServer;
class TCPServerDispatcher;
}  // namespace Net
}  // namespace Poco

namespace nomad_iis::http {

class api_context;
class client_limits;
class connection_reactor;
class connection_registry;

struct server_options {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 0;
  std::string tls_cert;  ///< PEM files; both set = HTTPS
  std::string tls_key;
  /// Connection threads: every open keep-alive connection holds one.
  int max_threads = 256;
  int max_queued = 512;
  int keep_alive_seconds = 10;
  int max_keep_alive_requests = 10000;
  int idle_timeout_seconds = 30;
  /// From a request's first byte to the end of its headers (slowloris guard).
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  /// Open connections per source address; past it, new ones get 503.
  std::size_t max_connections_per_client = 512;
};

class http_server {
 public:
  /// `fast_path` (may be null) lets the reactor answer status polls itself.
  http_server(server_options opts, Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
              api_context* fast_path);
  ~http_server();
  /// Binds and starts serving; throws Poco::Exception when it cannot bind.
  void start();
  void stop();
  /// The bound port (useful when options.port was 0).
  std::uint16_t port() const { return port_; }
  /// Applies to requests whose headers start after the call.
  void set_header_timeout(std::chrono::milliseconds timeout);
  /// Applies to connections accepted after the call.
  void set_max_connections_per_client(std::size_t n);

 private:
  server_options opts_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  api_context* fast_path_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::shared_ptr<client_limits> limits_;
  std::shared_ptr<connection_registry> connections_;
  std::unique_ptr<Poco::Net::ServerSocket> listener_;
  std::shared_ptr<connection_reactor> reactor_;
  /// Queues connections the reactor hands to threads (reference
  /// counted by Poco, hence not a smart pointer).
  Poco::Net::TCPServerDispatcher* handoff_ = nullptr;
  /// Accepts TLS connections (plain ones: the reactor).
  std::unique_ptr<Poco::Net::TCPServer> server_;
  std::uint16_t port_ = 0;
  /// Cuts off connections whose headers are late, a few times a second.
  std::thread sweeper_;
  std::mutex sweeper_mutex_;
  std::condition_variable sweeper_wake_;
  bool sweeper_stop_ = false;
};

}  // namespace nomad_iis::http
