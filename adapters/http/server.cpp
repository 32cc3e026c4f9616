#include "adapters/http/server.hpp"

#include "adapters/http/client_limits.hpp"
#include "adapters/http/connection.hpp"
#include "adapters/http/reactor.hpp"

#include <mutex>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerDispatcher.h>
#include <Poco/ThreadPool.h>

namespace nomad_iis::http {
namespace {

void init_ssl_once() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

/// How late past its header deadline a slow (TLS) connection may be cut off.
constexpr auto sweep_interval = std::chrono::milliseconds(250);
/// Connections the kernel queues before they are accepted.
constexpr int backlog = 1024;

}  // namespace

http_server::http_server(server_options opts, Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                         api_context* fast_path)
    : opts_(std::move(opts)),
      factory_(std::move(factory)),
      fast_path_(fast_path),
      limits_(std::make_shared<client_limits>(opts_.max_connections_per_client)),
      connections_(std::make_shared<connection_registry>(opts_.header_timeout)) {}

http_server::~http_server() {
  stop();
}

void http_server::start() {
  Poco::Net::SocketAddress addr(opts_.bind, opts_.port);
  const bool tls = !opts_.tls_cert.empty() && !opts_.tls_key.empty();
  if (tls) {
    init_ssl_once();
    Poco::Net::Context::Ptr ctx =
        new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, opts_.tls_key, opts_.tls_cert,
                               "", Poco::Net::Context::VERIFY_NONE);
    ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                          Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    ctx->enableExtendedCertificateVerification(false);
    listener_ = std::make_unique<Poco::Net::SecureServerSocket>(addr, backlog, ctx);
  } else {
    listener_ = std::make_unique<Poco::Net::ServerSocket>(addr, backlog);
  }

  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(opts_.max_threads);
  params->setMaxQueued(opts_.max_queued);
  params->setThreadIdleTime(Poco::Timespan(60, 0));
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(opts_.keep_alive_seconds, 0));
  params->setMaxKeepAliveRequests(opts_.max_keep_alive_requests);
  // Each blocking read or write on a connection gives up after this long.
  params->setTimeout(Poco::Timespan(opts_.idle_timeout_seconds, 0));
  params->setServerName("nomad_iis");

  // Connection threads come from our own pool, sized past what both
  // dispatchers may start so neither waits for a thread while clients queue.
  pool_ = std::make_unique<Poco::ThreadPool>(8, 2 * opts_.max_threads + 8, 60);
  if (!tls && fast_path_) {
    reactor_options reactor_opts;
    reactor_opts.keep_alive = std::chrono::seconds(opts_.keep_alive_seconds);
    reactor_opts.header_timeout = connections_->header_timeout();
    reactor_opts.max_requests = static_cast<std::uint32_t>(opts_.max_keep_alive_requests);
    reactor_ = std::make_shared<connection_reactor>(
        *fast_path_, reactor_opts, limits_,
        [this](int fd, std::string pending, std::shared_ptr<client_slot> slot) {
          Poco::Net::StreamSocket handed(
              new handed_socket(fd, std::move(pending), std::move(slot)));
          handoff_->enqueue(handed);
        });
    // Handed connections bring their client's slot.
    Poco::Net::TCPServerConnectionFactory::Ptr handed =
        new api_connection_factory(params, factory_, connections_, reactor_, nullptr);
    handoff_ = new Poco::Net::TCPServerDispatcher(handed, *pool_, params);
    reactor_->start(listener_->impl()->sockfd());
  } else {
    Poco::Net::TCPServerConnectionFactory::Ptr accepted =
        new api_connection_factory(params, factory_, connections_, nullptr, limits_);
    server_ = std::make_unique<Poco::Net::TCPServer>(accepted, *pool_, *listener_, params);
    server_->start();
  }
  port_ = listener_->address().port();
  sweeper_ = std::thread([this] {
    std::unique_lock lock(sweeper_mutex_);
    while (!sweeper_wake_.wait_for(lock, sweep_interval, [this] { return sweeper_stop_; })) {
      connections_->expire_slow_headers(connection_registry::clock::now());
    }
  });
}

void http_server::set_header_timeout(std::chrono::milliseconds timeout) {
  connections_->set_header_timeout(timeout);
  if (reactor_) reactor_->set_header_timeout(timeout);
}

void http_server::set_max_connections_per_client(std::size_t n) {
  limits_->set_per_client(n);
}

void http_server::stop() {
  if (sweeper_.joinable()) {
    {
      std::lock_guard lock(sweeper_mutex_);
      sweeper_stop_ = true;
    }
    sweeper_wake_.notify_all();
    sweeper_.join();
  }
  // The reactor first: threads that finish a request then close instead
  // of returning their connection.
  if (reactor_) reactor_->stop();
  if (server_) server_->stop();
  connections_->stop_all();
  server_.reset();
  if (handoff_) {
    handoff_->stop();
    handoff_->release();
    handoff_ = nullptr;
  }
  if (pool_) {
    pool_->joinAll();
    pool_.reset();
  }
  listener_.reset();
}

}  // namespace nomad_iis::http
