#include "adapters/http/session.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>

#include "adapters/http/framing.hpp"
#include "adapters/http/json_errors.hpp"

namespace nomad_iis::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

/// What the registry can do to a connection.
class closable {
 public:
  virtual ~closable() = default;
  virtual void close_from_outside() = 0;
};

class session_registry {
 public:
  /// False once closed: the connection must close at once.
  bool add(const std::shared_ptr<closable>& c) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    open_[c.get()] = c;
    return true;
  }
  bool closed() const { return closed_; }
  void remove(closable* c) {
    std::lock_guard lock(mutex_);
    open_.erase(c);
  }
  void close_all() {
    std::vector<std::shared_ptr<closable>> open;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      for (auto& [key, weak] : open_)
        if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    for (auto& c : open) c->close_from_outside();
  }

 private:
  std::mutex mutex_;
  std::atomic<bool> closed_{false};
  std::unordered_map<closable*, std::weak_ptr<closable>> open_;
};

std::shared_ptr<session_registry> make_session_registry() {
  return std::make_shared<session_registry>();
}

void close_all(session_registry& registry) {
  registry.close_all();
}

namespace {

/// A refusal of a request that cannot be read.
struct refusal {
  int status;
  const char* code;
  std::string message;
};

const std::string unreadable = "the request could not be read: ";

/// The longest a session's timer sleeps before it looks at its deadline.
constexpr auto timer_tick = std::chrono::seconds(1);

/// The largest header block the field limits allow, plus slack.
std::size_t max_head_bytes(const session_limits& l) {
  return l.max_target + l.max_fields * (l.max_field_name + l.max_field_value + 4) + 1024;
}

/// The limit a parsed request header breaks, if any.
std::optional<refusal> limit_problem(const bhttp::request_header<>& head, const session_limits& l) {
  const std::string limits = " (limits: header name 256 bytes, value 8 KiB, 100 fields)";
  if (head.target().size() > l.max_target)
    return refusal{400, "bad_request", unreadable + "URI too long (URIs are limited to 16 KiB)"};
  std::size_t fields = 0;
  for (const auto& field : head) {
    if (++fields > l.max_fields)
      return refusal{431, "headers_too_large", unreadable + "Too many header fields" + limits};
    if (field.name_string().size() > l.max_field_name)
      return refusal{431, "headers_too_large", unreadable + "Field name too long" + limits};
    if (field.value().size() > l.max_field_value)
      return refusal{431, "headers_too_large", unreadable + "Field value too long" + limits};
  }
  return std::nullopt;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// HTTP/1.x only: another version is 505, anything else is not HTTP.
std::optional<refusal> version_problem(std::string_view version) {
  const std::string shown(version.substr(0, 32));
  if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && is_digit(version[5]) &&
      version[6] == '.' && is_digit(version[7])) {
    if (version[5] == '1') return std::nullopt;
    return refusal{505, "http_version_not_supported",
                   "HTTP version " + shown + " is not supported; use HTTP/1.1"};
  }
  return refusal{400, "bad_request", unreadable + "not an HTTP request (version " + shown + ")"};
}

/// What Beast's parser refused, in the API's words.
refusal parse_refusal(const beast::error_code& ec) {
  if (ec == bhttp::error::bad_version)
    return {400, "bad_request", unreadable + "not an HTTP request (bad version)"};
  if (ec == bhttp::error::bad_content_length)
    return {400, "bad_request", unreadable + "a header has a malformed value (Content-Length)"};
  if (ec == bhttp::error::header_limit)
    return {431, "headers_too_large", unreadable + "the header block is too large"};
  return {400, "bad_request", unreadable + ec.message()};
}

template <class Stream>
class session : public exchange,
                public closable,
                public std::enable_shared_from_this<session<Stream>> {
 public:
  session(std::shared_ptr<asio::io_context> io, Stream stream, session_limits limits,
          std::shared_ptr<client_slot> slot, std::string client, request_sink sink,
          std::shared_ptr<session_registry> registry)
      : io_(std::move(io)),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        limits_(limits),
        slot_(std::move(slot)),
        client_(std::move(client)),
        sink_(std::move(sink)),
        registry_(std::move(registry)) {}

  ~session() override { registry_->remove(this); }

  void start() {
    if (!registry_->add(this->shared_from_this())) return close();
    if constexpr (is_tls) {
      arm(limits_.header_timeout, [this] { close(); });
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->read_head();
                              });
    } else {
      read_head();
    }
  }

  // ---- exchange: called from actors, run on the connection's thread ----

  void respond(response r) override {
    run([this, r = std::move(r)]() mutable { send(std::move(r), false); });
  }

  void read_body(std::size_t max, std::function<void(body_piece)> done) override {
    if (gone()) return done({"", false, true});
    run([this, max, done = std::move(done)]() mutable { next_body(max, std::move(done)); });
  }

  void start_stream(stream_head head, std::function<void(bool)> done) override {
    if (gone()) return done(false);
    run([this, head = std::move(head), done = std::move(done)]() mutable {
      begin_stream(std::move(head), std::move(done));
    });
  }

  void write_chunk(std::string bytes, std::function<void(bool)> done) override {
    if (gone()) return done(false);
    run([this, bytes = std::move(bytes), done = std::move(done)]() mutable {
      chunk(std::move(bytes), std::move(done));
    });
  }

  void end_stream() override {
    run([this] { finish_stream(); });
  }

  void abort() override {
    run([this] { close(); });
  }

  bool gone() const override { return gone_ || registry_->closed(); }

  void close_from_outside() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }

 private:
  static constexpr bool is_tls = !std::is_same_v<Stream, connection_socket>;
  using stream_response = bhttp::response<bhttp::buffer_body>;

  /// Runs `f` on the connection's thread with this session kept alive: at
  /// once when called there (a status read answered while its header block
  /// is handled), else posted.
  template <class F>
  void run(F f) {
    if (registry_->closed()) return;  // the server stopped; nothing runs posts
    if (io_->get_executor().running_in_this_thread()) return f();
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), f = std::move(f)]() mutable { f(); });
  }

  connection_socket& socket() { return beast::get_lowest_layer(stream_); }

  /// Starts the deadline; `expired` runs unless it is re-armed or disarmed
  /// first. One wait is pending at a time and wakes at least every
  /// `timer_tick` to look at the deadline, so moving it (several times per
  /// request) costs no timer operation.
  template <class F>
  void arm(std::chrono::milliseconds after, F expired) {
    deadline_ = std::chrono::steady_clock::now() + after;
    on_deadline_ = std::move(expired);
    if (!waiting_ || deadline_ < timer_.expiry()) wait_for_deadline();
  }
  void disarm() { on_deadline_ = nullptr; }

  void wait_for_deadline() {
    waiting_ = true;
    const auto generation = ++timer_generation_;
    timer_.expires_at(std::min(deadline_, std::chrono::steady_clock::now() + timer_tick));
    timer_.async_wait([self = this->shared_from_this(), generation](beast::error_code ec) {
      if (generation != self->timer_generation_) return;  // a sooner wait replaced it
      self->waiting_ = false;
      if (ec || self->closed_ || !self->on_deadline_) return;
      if (std::chrono::steady_clock::now() < self->deadline_) return self->wait_for_deadline();
      std::exchange(self->on_deadline_, nullptr)();
    });
  }

  // ---- the header block ----

  void read_head() {
    if (closed_) return;
    const auto bytes = pending();
    if (auto end = header_block_end(bytes)) return on_head(*end);
    if (bytes.size() > max_head_bytes(limits_))
      return refuse({431, "headers_too_large", unreadable + "the header block is too large"});
    if (bytes.find_first_not_of("\r\n") == std::string_view::npos) {
      arm(limits_.keep_alive_timeout, [this] { close(); });  // between requests
    } else if (!head_started_) {
      head_started_ = true;
      arm(limits_.header_timeout, [this] {
        headers_late_ = true;
        beast::error_code ignored;
        socket().cancel(ignored);
      });
    }
    stream_.async_read_some(buffer_.prepare(16 << 10), [self = this->shared_from_this()](
                                                           beast::error_code ec, std::size_t n) {
      self->buffer_.commit(n);
      if (self->headers_late_)
        return self->refuse({408, "request_timeout",
                             "the request's headers did not arrive within " +
                                 std::to_string(self->limits_.header_timeout.count()) + " ms"});
      if (ec) return self->close();
      self->read_head();
    });
  }

  std::string_view pending() const {
    const auto data = buffer_.data();
    return {static_cast<const char*>(data.data()), data.size()};
  }

  void on_head(std::size_t end) {
    disarm();
    head_started_ = false;
    const auto raw = pending().substr(0, end);
    if (auto problem = version_problem(request_version(raw))) return refuse(std::move(*problem));
    if (auto problem = header_lines_problem(raw)) return refuse({400, "bad_request", *problem});
    if (auto problem = framing_problem(raw)) return refuse({400, "bad_request", *problem});
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(end + 1));
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // the API has its own
    beast::error_code ec;
    const auto used = parser_->put(asio::buffer(raw.data(), raw.size()), ec);
    if (ec) return refuse(parse_refusal(ec));
    buffer_.consume(used);
    const auto& req = parser_->get();
    if (auto problem = limit_problem(req, limits_)) return refuse(std::move(*problem));
    keep_alive_ = parser_->keep_alive();
    continue_pending_ = beast::iequals(req[bhttp::field::expect], "100-continue");
    sink_(this->shared_from_this(), head_of(req));
  }

  request_head head_of(const bhttp::request<bhttp::buffer_body>& req) const {
    request_head h;
    h.method = std::string(req.method_string());
    h.target = std::string(req.target());
    if (auto it = req.find("X-Api-Key"); it != req.end()) h.api_key = std::string(it->value());
    if (auto it = req.find(bhttp::field::authorization); it != req.end())
      h.authorization = std::string(it->value());
    h.content_type = std::string(req[bhttp::field::content_type]);
    h.if_none_match = std::string(req[bhttp::field::if_none_match]);
    if (auto length = parser_->content_length()) h.content_length = *length;
    h.chunked = parser_->chunked();
    h.client = client_;
    return h;
  }

  // ---- answers ----

  /// Whether the connection may serve another request after this one.
  bool reusable() const {
    return keep_alive_ && parser_ && parser_->is_done() && !body_failed_ &&
           requests_ + 1 < limits_.max_requests;
  }

  void refuse(refusal r) {
    response res;
    res.status = r.status;
    res.body = error_json(r.code, r.message);
    send(std::move(res), true);
  }

  void send(response r, bool closing) {
    if (closed_) return;
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(r.status), 11);
    res->set(bhttp::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->set(name, value);
    const bool keep = !closing && reusable();
    res->keep_alive(keep);
    res->body() = std::move(r.body);
    res->prepare_payload();
    arm(limits_.idle_timeout, [this] { close(); });
    bhttp::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
          if (ec) return self->close();
          self->next_request(keep);
        });
  }

  void next_request(bool keep) {
    disarm();
    ++requests_;
    if (!keep) return shut_down();
    parser_.reset();
    stream_response_.reset();
    read_head();
  }

  // ---- the request body ----

  void next_body(std::size_t max, std::function<void(body_piece)> done) {
    if (closed_) return done({"", false, true});
    if (!parser_ || parser_->is_done()) return done({"", true, false});
    if (continue_pending_) {
      continue_pending_ = false;
      auto go_on =
          std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      return bhttp::async_write(
          stream_, *go_on,
          [self = this->shared_from_this(), go_on, max, done = std::move(done)](
              beast::error_code ec, std::size_t) mutable {
            if (ec) {
              self->close();
              return done({"", false, true});
            }
            self->next_body(max, std::move(done));
          });
    }
    body_buffer_.resize(max);
    fill_body(max, 0, std::move(done));
  }

  /// Reads the body into body_buffer_ (holding `have` bytes) until it holds
  /// `max` or the body ends: a piece per socket read would be 64 KiB at
  /// most, and each piece costs its receiver a round of messages.
  void fill_body(std::size_t max, std::size_t have, std::function<void(body_piece)> done) {
    auto& body = parser_->get().body();
    body.data = body_buffer_.data() + have;
    body.size = max - have;
    arm(limits_.idle_timeout, [this] {
      beast::error_code ignored;
      socket().cancel(ignored);
    });
    bhttp::async_read_some(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this(), max, done = std::move(done)](beast::error_code ec,
                                                                       std::size_t) mutable {
          self->disarm();
          if (ec == bhttp::error::need_buffer) ec = {};
          if (ec) {
            self->body_failed_ = true;
            return done({"", false, true});
          }
          const auto got = max - self->parser_->get().body().size;
          if (got < max && !self->parser_->is_done())
            return self->fill_body(max, got, std::move(done));
          done({std::string(self->body_buffer_.data(), got), self->parser_->is_done(), false});
        });
  }

  // ---- streamed answers ----

  void begin_stream(stream_head head, std::function<void(bool)> done) {
    if (closed_) return done(false);
    stream_response_.emplace(static_cast<bhttp::status>(head.status), 11);
    auto& res = *stream_response_;
    res.set(bhttp::field::content_type, head.content_type);
    for (auto& [name, value] : head.headers) res.set(name, value);
    stream_keep_ = reusable();
    res.keep_alive(stream_keep_);
    if (head.length)
      res.content_length(*head.length);
    else
      res.chunked(true);
    res.body().data = nullptr;
    res.body().more = true;
    serializer_.emplace(res);
    arm(limits_.idle_timeout, [this] { close(); });
    bhttp::async_write_header(stream_, *serializer_,
                              [self = this->shared_from_this(), done = std::move(done)](
                                  beast::error_code ec, std::size_t) {
                                self->disarm();
                                if (ec) self->close();
                                done(!ec);
                              });
  }

  void chunk(std::string bytes, std::function<void(bool)> done) {
    if (closed_ || !serializer_) return done(false);
    chunk_ = std::move(bytes);
    auto& body = stream_response_->body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    body.more = true;
    arm(limits_.idle_timeout, [this] { close(); });
    bhttp::async_write(stream_, *serializer_,
                       [self = this->shared_from_this(), done = std::move(done)](
                           beast::error_code ec, std::size_t) {
                         self->disarm();
                         if (ec == bhttp::error::need_buffer) ec = {};
                         if (ec) self->close();
                         done(!ec);
                       });
  }

  void finish_stream() {
    if (closed_ || !serializer_) return;
    auto& body = stream_response_->body();
    body.data = nullptr;
    body.size = 0;
    body.more = false;
    arm(limits_.idle_timeout, [this] { close(); });
    bhttp::async_write(stream_, *serializer_,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec == bhttp::error::need_buffer) ec = {};
                         if (ec) return self->close();
                         self->serializer_.reset();
                         self->next_request(self->stream_keep_);
                       });
  }

  // ---- the end ----

  void shut_down() {
    if constexpr (is_tls) {
      arm(std::chrono::seconds(2), [this] { close(); });
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close(); });
    } else {
      beast::error_code ignored;
      socket().shutdown(connection_socket::shutdown_send, ignored);
      close();
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    gone_ = true;
    disarm();
    timer_.cancel();  // the pending wait holds this session
    beast::error_code ignored;
    socket().shutdown(connection_socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  std::shared_ptr<asio::io_context> io_;  ///< first: destroyed after the socket
  Stream stream_;
  asio::basic_waitable_timer<std::chrono::steady_clock,
                             asio::wait_traits<std::chrono::steady_clock>,
                             asio::io_context::executor_type>
      timer_;
  std::uint64_t timer_generation_ = 0;
  bool waiting_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::function<void()> on_deadline_;
  session_limits limits_;
  std::shared_ptr<client_slot> slot_;
  std::string client_;
  request_sink sink_;
  std::shared_ptr<session_registry> registry_;

  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::vector<char> body_buffer_;
  std::optional<stream_response> stream_response_;
  std::optional<bhttp::response_serializer<bhttp::buffer_body>> serializer_;
  std::string chunk_;
  std::size_t requests_ = 0;
  bool head_started_ = false;
  bool headers_late_ = false;
  bool keep_alive_ = false;
  bool stream_keep_ = false;
  bool continue_pending_ = false;
  bool body_failed_ = false;
  bool closed_ = false;
  /// closed_ for other threads.
  std::atomic<bool> gone_{false};
};

}  // namespace

void serve_connection(connection_socket socket, std::shared_ptr<asio::io_context> io,
                      asio::ssl::context* tls, session_limits limits,
                      std::shared_ptr<client_slot> slot, std::string client, request_sink sink,
                      std::shared_ptr<session_registry> registry) {
  if (tls) {
    using tls_stream = asio::ssl::stream<connection_socket>;
    std::make_shared<session<tls_stream>>(std::move(io), tls_stream(std::move(socket), *tls),
                                          limits, std::move(slot), std::move(client),
                                          std::move(sink), std::move(registry))
        ->start();
  } else {
    std::make_shared<session<connection_socket>>(std::move(io), std::move(socket), limits,
                                                 std::move(slot), std::move(client),
                                                 std::move(sink), std::move(registry))
        ->start();
  }
}

}  // namespace nomad_iis::http
