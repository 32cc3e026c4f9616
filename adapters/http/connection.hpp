#pragma once
// One client connection of the Management API. Poco's own HTTP connection
// answers a request it cannot parse (a header or URI past Poco's limits, a
// garbled request line) with a bare 400; this one reads requests with the
// same Poco session and handler factory but answers those with the API's
// JSON error ({"error", "message"}, 400/431/505) before closing. A client
// that takes longer than the header timeout to send a request's headers
// (slowloris) gets 408 and is cut off: Poco bounds each read, not the whole.
// A plain connection that is idle (just accepted, or after a request) goes
// to the reactor (reactor.hpp), which holds idle connections without a
// thread and sends them back here when a request needs one.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

namespace Poco::Net {
class HTTPServerSession;
}  // namespace Poco::Net

namespace nomad_iis::http {

class api_connection;
class connection_reactor;

/// The open connections, so that stopping the server ends them all (idle
/// keep-alive ones too) instead of waiting for their timeouts, and a sweep
/// cuts off those reading headers past their deadline.
class connection_registry {
 public:
  using clock = std::chrono::steady_clock;

  explicit connection_registry(std::chrono::milliseconds header_timeout)
      : header_timeout_ms_(header_timeout.count()) {}

  void add(api_connection* c);
  void remove(api_connection* c);
  /// Ends every open connection, and any opened later.
  void stop_all();
  bool stopping() const { return stopping_; }

  /// A request's headers are being read from `c` from now on / are read.
  void begin_headers(api_connection* c);
  void end_headers(api_connection* c);
  /// Cuts off the connections still reading headers past their deadline;
  /// returns how many.
  std::size_t expire_slow_headers(clock::time_point now);
  void set_header_timeout(std::chrono::milliseconds timeout) {
    header_timeout_ms_ = timeout.count();
  }
  std::chrono::milliseconds header_timeout() const {
    return std::chrono::milliseconds(header_timeout_ms_.load());
  }

 private:
  std::mutex mutex_;  ///< guards open_ (taken per connection, not per request)
  std::set<api_connection*> open_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> header_timeout_ms_;
};

class api_connection final : public Poco::Net::TCPServerConnection {
 public:
  api_connection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                 Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                 std::shared_ptr<connection_registry> registry,
                 std::shared_ptr<connection_reactor> reactor, bool request_waiting);
  ~api_connection() override;
  void run() override;

 private:
  /// Reads one request and hands it to a handler. Throws what Poco throws
  /// for a request it cannot read.
  void serve_one(Poco::Net::HTTPServerSession& session);
  /// Gives the (idle) connection to the reactor; false when it cannot take it.
  bool return_to_reactor();

  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr handlers_;
  std::shared_ptr<connection_registry> registry_;
  /// Null for TLS: OpenSSL may hold bytes the descriptor does not show.
  std::shared_ptr<connection_reactor> reactor_;
  /// Handed over by the reactor with a request unread: serve it first
  /// (else a fresh connection goes straight to the reactor).
  const bool request_waiting_;
  /// Set by the registry's sweep: the headers did not arrive in time.
  std::atomic<bool> headers_timed_out_{false};
  /// When the headers being read are due (steady clock, ns); 0 while no
  /// request's headers are being read. An atomic, not a registry entry: it
  /// changes twice per request, and a shared lock there stalls 64 clients.
  std::atomic<std::int64_t> header_deadline_{0};

  friend class connection_registry;
};

class api_connection_factory final : public Poco::Net::TCPServerConnectionFactory {
 public:
  api_connection_factory(Poco::Net::HTTPServerParams::Ptr params,
                         Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                         std::shared_ptr<connection_registry> registry,
                         std::shared_ptr<connection_reactor> reactor, bool request_waiting)
      : params_(std::move(params)),
        handlers_(std::move(handlers)),
        registry_(std::move(registry)),
        reactor_(std::move(reactor)),
        request_waiting_(request_waiting) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new api_connection(socket, params_, handlers_, registry_, reactor_, request_waiting_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr handlers_;
  std::shared_ptr<connection_registry> registry_;
  std::shared_ptr<connection_reactor> reactor_;
  /// True for connections the reactor hands over, false for accepted ones.
  bool request_waiting_;
};

}  // namespace nomad_iis::http
