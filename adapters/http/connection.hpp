#pragma once
// One client connection of the Management API. Poco's own HTTP connection
// answers a request it cannot parse (a header or URI past Poco's limits, a
// garbled request line) with a bare 400; this one reads requests with the
// same Poco session and handler factory but answers those with the API's
// JSON error ({"error", "message"}, 400/431/505) before closing. A client
// that takes longer than the header timeout to send a request's headers
// (slowloris) gets 408 and is cut off: Poco bounds each read, not the whole.
// Plain connections are accepted by the reactor (reactor.hpp), which holds
// them without a thread until a request's whole header block has come and
// sends them here with the bytes it read; after the request they go back.
// Every request's framing is checked (framing.hpp) after Poco parsed it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "adapters/http/client_limits.hpp"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/StreamSocketImpl.h>
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

/// A plain connection the reactor hands to a thread: its first reads return
/// the bytes the reactor already took off the socket (a complete header
/// block first), and it holds the client's connection slot.
class handed_socket final : public Poco::Net::StreamSocketImpl {
 public:
  handed_socket(int fd, std::string pending, std::shared_ptr<client_slot> slot)
      : Poco::Net::StreamSocketImpl(fd), pending_(std::move(pending)), slot_(std::move(slot)) {}

  using Poco::Net::StreamSocketImpl::receiveBytes;
  int receiveBytes(void* buffer, int length, int flags = 0) override;
  int available() override;
  bool poll(const Poco::Timespan& timeout, int mode) override;

  /// The bytes not read yet, taken out.
  std::string take_pending();
  const std::shared_ptr<client_slot>& slot() const { return slot_; }

 private:
  std::string pending_;
  std::size_t offset_ = 0;
  std::shared_ptr<client_slot> slot_;
};

class api_connection final : public Poco::Net::TCPServerConnection {
 public:
  /// `slot` is the client's connection slot (TLS; null = over its limit,
  /// the connection is closed at once); a handed_socket brings its own.
  api_connection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                 Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                 std::shared_ptr<connection_registry> registry,
                 std::shared_ptr<connection_reactor> reactor, std::shared_ptr<client_slot> slot,
                 bool refused);
  ~api_connection() override;
  void run() override;

 private:
  /// Reads one request and hands it to a handler. Throws what Poco throws
  /// for a request it cannot read.
  void serve_one(Poco::Net::HTTPServerSession& session);
  /// Gives the idle connection, with what the session read ahead, back to
  /// the reactor (or closes it when the reactor has stopped).
  void return_to_reactor(Poco::Net::HTTPServerSession& session);

  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr handlers_;
  std::shared_ptr<connection_registry> registry_;
  /// Null for TLS: OpenSSL may hold bytes the descriptor does not show.
  std::shared_ptr<connection_reactor> reactor_;
  std::shared_ptr<client_slot> slot_;
  /// The client holds its limit of connections already.
  const bool refused_;
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
  /// `limits` (null for connections the reactor hands over, which bring
  /// their slot) counts the connections this factory's server accepts.
  api_connection_factory(Poco::Net::HTTPServerParams::Ptr params,
                         Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                         std::shared_ptr<connection_registry> registry,
                         std::shared_ptr<connection_reactor> reactor,
                         std::shared_ptr<client_limits> limits)
      : params_(std::move(params)),
        handlers_(std::move(handlers)),
        registry_(std::move(registry)),
        reactor_(std::move(reactor)),
        limits_(std::move(limits)) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override;

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr handlers_;
  std::shared_ptr<connection_registry> registry_;
  std::shared_ptr<connection_reactor> reactor_;
  std::shared_ptr<client_limits> limits_;
};

}  // namespace nomad_iis::http
