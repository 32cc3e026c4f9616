#include "adapters/http/server.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>

#include "adapters/http/client_limits.hpp"
#include "adapters/http/json_errors.hpp"

namespace nomad_iis::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// One io_context per I/O thread, each connection on one of them: its
/// handlers run in order on that thread without a strand, and threads never
/// hand each other a connection's work.
std::vector<std::shared_ptr<asio::io_context>> make_contexts(int threads) {
  std::vector<std::shared_ptr<asio::io_context>> contexts;
  for (int i = 0; i < std::max(1, threads); ++i)
    contexts.push_back(std::make_shared<asio::io_context>(1));
  return contexts;
}

struct http_server::impl {
  impl(server_options o, request_sink s)
      : opts(std::move(o)),
        sink(std::move(s)),
        contexts(make_contexts(opts.io_threads)),
        acceptor(*contexts.front()),
        limits(std::make_shared<client_limits>(opts.max_connections_per_client)),
        registry(make_session_registry()),
        header_timeout_ms(opts.limits.header_timeout.count()) {}

  void open() {
    if (!opts.tls_cert.empty() || !opts.tls_key.empty()) {
      tls.emplace(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
      tls->use_certificate_chain_file(opts.tls_cert);
      tls->use_private_key_file(opts.tls_key, asio::ssl::context::pem);
    }
    const tcp::endpoint at(asio::ip::make_address(opts.bind), opts.port);
    acceptor.open(at.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen(asio::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
  }

  void accept() {
    // `this` outlives the accept loop: stop() closes the acceptor and joins.
    auto io = contexts[next_context++ % contexts.size()];
    acceptor.async_accept(io->get_executor(), [self = this, io](boost::system::error_code ec,
                                                                connection_socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      if (!ec) self->admit(std::move(socket), io);
      self->accept();
    });
  }

  void admit(connection_socket socket, const std::shared_ptr<asio::io_context>& io) {
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) return;
    auto address = peer.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    const auto client = address.to_string();
    auto slot = limits->acquire(client);
    if (!slot) return refuse_over_limit(std::move(socket), client);
    auto limits_now = opts.limits;
    limits_now.header_timeout = std::chrono::milliseconds(header_timeout_ms.load());
    serve_connection(std::move(socket), io, tls ? &*tls : nullptr, limits_now, std::move(slot),
                     client, sink, registry);
  }

  /// Plain HTTP gets a JSON 503; TLS is closed before its handshake.
  void refuse_over_limit(connection_socket socket, const std::string& client) {
    if (tls) return;
    auto conn = std::make_shared<connection_socket>(std::move(socket));
    auto text = std::make_shared<std::string>(error_response_text(
        503, "too_many_connections",
        "this client (" + client + ") has " + std::to_string(limits->per_client()) +
            " connections open, the most one client may have; close some"));
    asio::async_write(*conn, asio::buffer(*text),
                      [conn, text](boost::system::error_code, std::size_t) {
                        boost::system::error_code ignored;
                        conn->shutdown(connection_socket::shutdown_both, ignored);
                      });
  }

  server_options opts;
  request_sink sink;
  /// Shared with the connections: one an actor still holds keeps its context.
  std::vector<std::shared_ptr<asio::io_context>> contexts;
  std::size_t next_context = 0;  ///< the accept loop's only
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;
  std::shared_ptr<client_limits> limits;
  std::shared_ptr<session_registry> registry;
  std::atomic<long long> header_timeout_ms;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  std::mutex mutex;
  bool stopped = false;
};

http_server::http_server(server_options opts, request_sink sink)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(sink))) {}

http_server::~http_server() {
  stop();
}

void http_server::start() {
  try {
    impl_->open();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot serve on " + impl_->opts.bind + ":" +
                             std::to_string(impl_->opts.port) + ": " + e.what());
  }
  impl_->accept();
  for (auto& io : impl_->contexts) {
    // A context without a connection has no work, and run() would return.
    impl_->keep_running.push_back(asio::make_work_guard(*io));
    impl_->threads.emplace_back([io] { io->run(); });
  }
}

void http_server::stop() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->acceptor.get_executor(), [self = impl_.get()] {
    boost::system::error_code ignored;
    self->acceptor.close(ignored);
  });
  close_all(*impl_->registry);
  impl_->keep_running.clear();
  // With the acceptor and every connection closed, the threads run out of
  // work; what an actor answers later is dropped (the registry is closed).
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

std::uint16_t http_server::port() const {
  return impl_->port;
}

void http_server::set_header_timeout(std::chrono::milliseconds timeout) {
  impl_->header_timeout_ms = timeout.count();
}

void http_server::set_max_connections_per_client(std::size_t n) {
  impl_->limits->set_per_client(n);
}

}  // namespace nomad_iis::http
