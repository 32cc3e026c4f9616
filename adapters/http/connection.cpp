#include "adapters/http/connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include <Poco/Buffer.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>

#include "adapters/http/framing.hpp"
#include "adapters/http/json_errors.hpp"
#include "adapters/http/reactor.hpp"

namespace nomad_iis::http {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerResponseImpl;
using Poco::Net::HTTPServerSession;

struct unreadable_request {
  int status;
  const char* code;
  std::string message;
};

/// What to answer for a request Poco could not read; Poco names the limit it
/// hit only in its message text.
unreadable_request classify_unreadable(const Poco::Exception& error) {
  const std::string& text = error.message();
  const std::string prefix = "the request could not be read: ";
  if (dynamic_cast<const Poco::SyntaxException*>(&error))
    return {400, "bad_request", prefix + "a header has a malformed value (" + text + ")"};
  if (text.find("Field") != std::string::npos || text.find("header fields") != std::string::npos)
    return {431, "headers_too_large",
            prefix + text + " (limits: header name 256 bytes, value 8 KiB, 100 fields)"};
  if (text.find("URI") != std::string::npos)
    return {400, "bad_request", prefix + text + " (URIs are limited to 16 KiB)"};
  return {400, "bad_request", prefix + (text.empty() ? error.displayText() : text)};
}

/// Answers a request that cannot be served with a JSON error and ends
/// keep-alive. Written through send(): with no parsed request Poco's
/// sendBuffer would drop the body.
void reject(HTTPServerSession& session, const unreadable_request& answer) {
  try {
    HTTPServerResponseImpl response(session);
    response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
    response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(answer.status));
    response.setKeepAlive(false);
    response.setContentType("application/json; charset=utf-8");
    auto body = error_json(answer.code, answer.message);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body << std::flush;
  } catch (const std::exception&) {
    // the client is gone; nothing to answer
  }
  session.setKeepAlive(false);
}

/// Marks a connection as reading headers for as long as it lives.
class reading_headers {
 public:
  reading_headers(connection_registry& registry, api_connection* c) : registry_(registry), c_(c) {
    registry_.begin_headers(c_);
  }
  ~reading_headers() { registry_.end_headers(c_); }
  reading_headers(const reading_headers&) = delete;
  reading_headers& operator=(const reading_headers&) = delete;

 private:
  connection_registry& registry_;
  api_connection* c_;
};

}  // namespace

void connection_registry::add(api_connection* c) {
  std::lock_guard lock(mutex_);
  open_.insert(c);
}

void connection_registry::remove(api_connection* c) {
  std::lock_guard lock(mutex_);
  open_.erase(c);
}

void connection_registry::begin_headers(api_connection* c) {
  auto due = clock::now() + header_timeout();
  c->header_deadline_.store(std::chrono::nanoseconds(due.time_since_epoch()).count());
}

void connection_registry::end_headers(api_connection* c) {
  c->header_deadline_.store(0);
}

std::size_t connection_registry::expire_slow_headers(clock::time_point now) {
  const std::int64_t now_ns = std::chrono::nanoseconds(now.time_since_epoch()).count();
  std::lock_guard lock(mutex_);
  std::size_t expired = 0;
  for (auto* c : open_) {
    auto due = c->header_deadline_.load();
    // The exchange loses to a connection that just finished its headers.
    if (due == 0 || due > now_ns || !c->header_deadline_.compare_exchange_strong(due, 0)) continue;
    c->headers_timed_out_ = true;
    // The blocked read ends (EOF); the answer can still be sent. Raw
    // shutdown: Poco's is a no-op on TLS sockets.
    ::shutdown(c->socket().impl()->sockfd(), SHUT_RD);
    ++expired;
  }
  return expired;
}

void connection_registry::stop_all() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  for (auto* c : open_) {
    try {
      c->socket().shutdown();  // wakes a read blocked on it
    } catch (...) {
    }
  }
}

int handed_socket::receiveBytes(void* buffer, int length, int flags) {
  if (offset_ >= pending_.size()) return StreamSocketImpl::receiveBytes(buffer, length, flags);
  const auto n = std::min(static_cast<std::size_t>(std::max(length, 0)), pending_.size() - offset_);
  std::memcpy(buffer, pending_.data() + offset_, n);
  if (!(flags & MSG_PEEK)) offset_ += n;
  return static_cast<int>(n);
}

int handed_socket::available() {
  return static_cast<int>(pending_.size() - offset_) + StreamSocketImpl::available();
}

bool handed_socket::poll(const Poco::Timespan& timeout, int mode) {
  if ((mode & Poco::Net::Socket::SELECT_READ) && offset_ < pending_.size()) return true;
  return StreamSocketImpl::poll(timeout, mode);
}

std::string handed_socket::take_pending() {
  auto rest = pending_.substr(offset_);
  pending_.clear();
  offset_ = 0;
  return rest;
}

Poco::Net::TCPServerConnection* api_connection_factory::createConnection(
    const Poco::Net::StreamSocket& socket) {
  std::shared_ptr<client_slot> slot;
  bool refused = false;
  if (limits_) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(socket.impl()->sockfd(), reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
      slot = limits_->acquire(client_limits::client_of(peer));
      refused = !slot;
    }
  }
  return new api_connection(socket, params_, handlers_, registry_, reactor_, std::move(slot),
                            refused);
}

api_connection::api_connection(const Poco::Net::StreamSocket& socket,
                               Poco::Net::HTTPServerParams::Ptr params,
                               Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                               std::shared_ptr<connection_registry> registry,
                               std::shared_ptr<connection_reactor> reactor,
                               std::shared_ptr<client_slot> slot, bool refused)
    : Poco::Net::TCPServerConnection(socket),
      params_(std::move(params)),
      handlers_(std::move(handlers)),
      registry_(std::move(registry)),
      reactor_(socket.secure() ? nullptr : std::move(reactor)),
      slot_(std::move(slot)),
      refused_(refused) {
  registry_->add(this);
}

api_connection::~api_connection() {
  registry_->remove(this);
}

void api_connection::run() {
  // Over its client's limit: closed before the TLS handshake, unanswered.
  if (refused_) return;
  HTTPServerSession session(socket(), params_);
  while (!registry_->stopping()) {
    std::optional<unreadable_request> refusal;
    try {
      if (!session.hasMoreRequests()) break;
      serve_one(session);
      // Even with the next request read ahead: its headers may be partial.
      if (reactor_ && session.getKeepAlive()) return return_to_reactor(session);
      continue;
    } catch (const Poco::Net::NoMessageException&) {
      // the client closed the connection between requests
    } catch (const Poco::Net::MessageException& e) {
      refusal = classify_unreadable(e);
    } catch (const Poco::SyntaxException& e) {  // e.g. Content-Length: abc
      refusal = classify_unreadable(e);
    } catch (const std::exception&) {
      // network error or idle timeout: the connection is done
    }
    if (headers_timed_out_) {
      refusal = unreadable_request{408, "request_timeout",
                                   "the request's headers did not arrive within " +
                                       std::to_string(registry_->header_timeout().count()) + " ms"};
    }
    if (refusal) reject(session, *refusal);
    break;  // the rest of the stream cannot be trusted
  }
}

void api_connection::return_to_reactor(HTTPServerSession& session) {
  Poco::Buffer<char> read_ahead(0);
  session.drainBuffer(read_ahead);
  std::string pending(read_ahead.begin(), read_ahead.size());
  std::shared_ptr<client_slot> slot = slot_;
  if (auto* handed = dynamic_cast<handed_socket*>(socket().impl())) {
    pending += handed->take_pending();
    slot = handed->slot();
  }
  // The session closes its socket when this thread is done: the reactor
  // gets its own descriptor for the connection.
  const int fd = ::dup(socket().impl()->sockfd());
  if (fd < 0) return;
  if (!reactor_->adopt(fd, std::move(pending), std::move(slot))) ::close(fd);
}

void api_connection::serve_one(HTTPServerSession& session) {
  HTTPServerResponseImpl response(session);
  std::optional<Poco::Net::HTTPServerRequestImpl> parsed;
  {
    reading_headers deadline(*registry_, this);
    parsed.emplace(response, session, params_);
  }
  if (headers_timed_out_) throw Poco::TimeoutException("request headers");
  auto& request = *parsed;
  // Framing Poco tolerates and a proxy may read differently (the reactor
  // checks the raw lines of plain connections before they get here).
  if (auto problem = framing_problem(request)) {
    reject(session, {400, "bad_request", *problem});
    return;
  }
  const auto& version = request.getVersion();
  if (version.rfind("HTTP/1.", 0) != 0) {
    if (version.rfind("HTTP/", 0) == 0)
      reject(session, {505, "http_version_not_supported",
                       "HTTP version " + version + " is not supported; use HTTP/1.1"});
    else
      reject(session, {400, "bad_request", "not an HTTP request (version " + version + ")"});
    return;
  }
  response.setDate(Poco::Timestamp());
  response.setVersion(version);
  response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() &&
                        session.canKeepAlive());
  std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(handlers_->createRequestHandler(request));
  if (request.getExpectContinue()) response.sendContinue();
  try {
    handler->handleRequest(request, response);
  } catch (const std::exception& e) {
    // Handlers answer their own errors; this is a bug or a cut stream.
    if (!response.sent()) {
      try {
        send_error(response, 500, "internal", e.what());
      } catch (const std::exception&) {
      }
    }
    session.setKeepAlive(false);
    return;
  }
  session.setKeepAlive(params_->getKeepAlive() && response.getKeepAlive() &&
                       session.canKeepAlive());
}

}  // namespace nomad_iis::http
