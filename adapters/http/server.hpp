#pragma once
// The Poco HTTP(S) server of the Management API: thread-per-connection,
// sized so 64 keep-alive clients are all served, with bounded keep-alive,
// idle timeouts and Poco's request/header size limits (answered in JSON by
// api_connection).

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
class TCPServer;
}
}  // namespace Poco

namespace nomad_iis::http {

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
};

class http_server {
 public:
  http_server(server_options opts, Poco::Net::HTTPRequestHandlerFactory::Ptr factory);
  ~http_server();
  /// Binds and starts serving; throws Poco::Exception when it cannot bind.
  void start();
  void stop();
  /// The bound port (useful when options.port was 0).
  std::uint16_t port() const { return port_; }
  /// Applies to requests whose headers start after the call.
  void set_header_timeout(std::chrono::milliseconds timeout);

 private:
  server_options opts_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::shared_ptr<connection_registry> connections_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  std::uint16_t port_ = 0;
  /// Cuts off connections whose headers are late, a few times a second.
  std::thread sweeper_;
  std::mutex sweeper_mutex_;
  std::condition_variable sweeper_wake_;
  bool sweeper_stop_ = false;
};

}  // namespace nomad_iis::http
