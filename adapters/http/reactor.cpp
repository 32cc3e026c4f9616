#include "adapters/http/reactor.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "adapters/http/api_context.hpp"
#include "adapters/http/json_errors.hpp"
#include "common/logging.hpp"

namespace nomad_iis::http {
namespace {

using clock = std::chrono::steady_clock;

/// How often header deadlines and idle connections are checked.
constexpr auto sweep_interval = std::chrono::milliseconds(250);
/// How often refused connections are summed up in the log.
constexpr auto refusal_log_interval = std::chrono::seconds(10);
constexpr std::size_t read_size = 16 << 10;
constexpr int max_events = 256;
/// Connections accepted per wake-up, so a flood of them cannot starve the
/// connections already held.
constexpr int accepts_per_wake = 128;

void set_blocking(int fd, bool blocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return;
  ::fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

/// Closes after an error answer: the client gets our FIN, and what it sent
/// meanwhile is read away so that the close does not reset the connection
/// before the answer is read.
void close_gently(int fd) {
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  ::close(fd);
}

}  // namespace

/// What other threads hand the reactor: connections back from threads and
/// answers.
struct connection_reactor::inbox {
  struct adopted_connection {
    int fd;
    std::string pending;
    std::shared_ptr<client_slot> slot;
  };

  inbox() : wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (wake_fd < 0) throw std::runtime_error("eventfd failed");
  }
  ~inbox() {
    for (auto& a : adopted) ::close(a.fd);
    ::close(wake_fd);
  }
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  bool post_connection(adopted_connection c) {
    std::lock_guard lock(mutex);
    if (stopped) return false;
    adopted.push_back(std::move(c));
    wake_locked();
    return true;
  }
  void post_answer(task_key key, answer_ptr answer) {
    std::lock_guard lock(mutex);
    answers.emplace_back(std::move(key), std::move(answer));
    wake_locked();
  }
  void stop() {
    std::lock_guard lock(mutex);
    stopped = true;
    wake_locked();
  }
  /// Only the first post after a drain needs to wake the reactor.
  void wake_locked() {
    if (woken) return;
    woken = true;
    const std::uint64_t one = 1;
    if (::write(wake_fd, &one, sizeof one) < 0) woken = false;
  }

  std::mutex mutex;
  bool stopped = false;
  bool woken = false;
  std::vector<adopted_connection> adopted;
  std::vector<std::pair<task_key, answer_ptr>> answers;
  const int wake_fd;
};

connection_reactor::connection_reactor(api_context& ctx, reactor_options options,
                                       std::shared_ptr<client_limits> limits, hand_off to_thread)
    : ctx_(ctx),
      options_(options),
      header_timeout_ms_(options.header_timeout.count()),
      limits_(std::move(limits)),
      to_thread_(std::move(to_thread)),
      inbox_(std::make_shared<inbox>()),
      read_buffer_(read_size) {}

connection_reactor::~connection_reactor() {
  stop();
}

void connection_reactor::start(int listen_fd) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = inbox_->wake_fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, inbox_->wake_fd, &ev) != 0)
    throw std::runtime_error("epoll_ctl failed");
  listen_fd_ = listen_fd;
  set_blocking(listen_fd_, false);
  ev.data.fd = listen_fd_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0)
    throw std::runtime_error("epoll_ctl failed for the listening socket");
  accepting_ = true;
  thread_ = std::thread([this] { run(); });
}

void connection_reactor::stop() {
  inbox_->stop();
  if (thread_.joinable()) thread_.join();
  for (auto& [fd, c] : connections_) ::close(fd);
  connections_.clear();
  reads_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  epoll_fd_ = -1;
}

bool connection_reactor::adopt(int fd, std::string pending, std::shared_ptr<client_slot> slot) {
  return inbox_->post_connection({fd, std::move(pending), std::move(slot)});
}

void connection_reactor::run() {
  std::vector<epoll_event> events(max_events);
  auto next_sweep = clock::now() + sweep_interval;
  const int wait_ms = static_cast<int>(sweep_interval.count());
  while (true) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), max_events, wait_ms);
    if (n < 0 && errno != EINTR) {
      // Cannot happen with a valid epoll set; say so rather than go quiet.
      logging::log(*ctx_.log, spdlog::level::err, "management api reactor stopped",
                   {{"error", std::strerror(errno)}});
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        accept_all();
      } else if (fd != inbox_->wake_fd) {
        on_ready(fd, events[i].events);
      } else {
        drain_inbox();
        std::lock_guard lock(inbox_->mutex);
        if (inbox_->stopped) return;
      }
    }
    start_reads();
    const auto now = clock::now();
    if (now >= next_sweep) {
      sweep(now);
      next_sweep = now + sweep_interval;
    }
  }
}

void connection_reactor::accept_all() {
  for (int i = 0; i < accepts_per_wake; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop listening until the next sweep rather
        // than spin on a connection we cannot take (it waits in the backlog).
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accepting_ = false;
        logging::log(*ctx_.log, spdlog::level::warn,
                     "management api cannot accept connections for now",
                     {{"error", std::strerror(errno)}});
      }
      return;
    }
    const auto client = client_limits::client_of(peer);
    auto slot = limits_->acquire(client);
    if (!slot) {
      const auto answer = error_response_text(
          503, "too_many_connections",
          "this client (" + client + ") has " + std::to_string(limits_->per_client()) +
              " connections open, the most one client may have; close some");
      [[maybe_unused]] auto sent =
          ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close_gently(fd);
      ++refused_;
      refused_client_ = client;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    add(fd, {}, std::move(slot));
  }
}

void connection_reactor::drain_inbox() {
  std::uint64_t count = 0;
  if (::read(inbox_->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN) return;
  std::vector<inbox::adopted_connection> adopted;
  std::vector<std::pair<task_key, answer_ptr>> answers;
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->woken = false;
    adopted.swap(inbox_->adopted);
    answers.swap(inbox_->answers);
  }
  for (auto& a : adopted) {
    set_blocking(a.fd, false);
    add(a.fd, std::move(a.pending), std::move(a.slot));
  }
  for (auto& [key, answer] : answers) on_answer(key, answer);
}

void connection_reactor::add(int fd, std::string pending, std::shared_ptr<client_slot> slot) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    return;
  }
  auto& c = connections_[fd];
  c = connection{};
  c.idle_since = c.request_began = clock::now();
  c.slot = std::move(slot);
  c.pending = std::move(pending);
  // A request the thread read ahead is complete already, or the rest comes.
  if (!c.pending.empty()) judge(fd, c);
}

void connection_reactor::on_ready(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  auto& c = it->second;
  if (c.state == phase::writing) {
    if (events & EPOLLERR)
      close_connection(fd);
    else
      flush(fd, c);
  } else if (c.state == phase::idle) {
    receive(fd, c);
  }
}

void connection_reactor::receive(int fd, connection& c) {
  const std::size_t had = c.pending.size();
  // Enough for the rest of a header block; a body's bytes beyond it stay
  // on the socket for the thread.
  const std::size_t room = std::max<std::size_t>(
      options_.max_header_bytes + 1 - std::min(had, options_.max_header_bytes), 1);
  ssize_t n;
  do {
    n = ::recv(fd, read_buffer_.data(), std::min(room, read_buffer_.size()), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch(fd, EPOLLIN);
  if (n <= 0) return close_connection(fd);  // the client closed, or the connection broke
  if (had == 0) c.request_began = clock::now();
  c.pending.append(read_buffer_.data(), static_cast<std::size_t>(n));
  // Only a new line break can complete the header block: a trickling
  // client costs one look per line, not per byte.
  const bool new_line = c.pending.find('\n', had) != std::string::npos;
  if (new_line || c.pending.size() > options_.max_header_bytes) return judge(fd, c);
  watch(fd, EPOLLIN);
}

void connection_reactor::judge(int fd, connection& c) {
  auto verdict = judge_request(c.pending, options_.max_header_bytes, ctx_.auth,
                               std::chrono::system_clock::now());
  switch (verdict.what) {
    case request_verdict::action::wait:
      return watch(fd, EPOLLIN);
    case request_verdict::action::refuse:
      return refuse(fd, c, verdict.status, verdict.code, verdict.message);
    case request_verdict::action::to_thread:
      return to_thread(fd, c);
    case request_verdict::action::answer:
      break;
  }
  auto& reads = reads_[verdict.poll->task];
  if (reads.in_flight) {
    reads.next.push_back(fd);
  } else {
    reads.current.push_back(fd);
    if (reads.current.size() == 1) to_start_.push_back(verdict.poll->task);
  }
  c.poll = std::move(verdict.poll);
  c.state = phase::waiting;
  c.asked = clock::now();
}

void connection_reactor::refuse(int fd, connection& c, int status, const std::string& code,
                                const std::string& message) {
  logging::log(*ctx_.log, spdlog::level::debug, "management api request refused",
               {{"status", std::to_string(status)}, {"reason", message}});
  c.pending.clear();
  c.out = error_response_text(status, code, message);
  c.out_sent = 0;
  c.close_after = true;
  c.state = phase::writing;
  flush(fd, c);
}

void connection_reactor::start_reads() {
  for (const auto& key : to_start_) {
    reads_[key].in_flight = true;
    begin_read(key);
  }
  to_start_.clear();
}

void connection_reactor::begin_read(const task_key& key) {
  ctx_.tasks.find_status_async(
      key.first, key.second, [box = inbox_, key](std::optional<msg::site_status> site) {
        answer_ptr answer;
        if (site) {
          try {
            answer = std::make_shared<const status_answer>(make_status_answer(std::move(*site)));
          } catch (const std::exception&) {
            // no answer: the waiters go to the thread path
          }
        }
        box->post_answer(key, std::move(answer));
      });
}

void connection_reactor::on_answer(const task_key& key, const answer_ptr& answer) {
  auto it = reads_.find(key);
  if (it == reads_.end()) return;
  auto waiters = std::move(it->second.current);
  it->second.current.clear();
  if (it->second.next.empty()) {
    reads_.erase(it);
  } else {
    // They came while this read was under way: they get a fresh one.
    it->second.current = std::move(it->second.next);
    it->second.next.clear();
    begin_read(key);
  }
  for (int fd : waiters) deliver(fd, answer);
}

void connection_reactor::deliver(int fd, const answer_ptr& answer) {
  auto it = connections_.find(fd);
  if (it == connections_.end() || it->second.state != phase::waiting || !it->second.poll) return;
  auto& c = it->second;
  const status_poll poll = std::move(*c.poll);
  c.poll.reset();
  const bool keep_alive = c.served + 1 < options_.max_requests;
  std::optional<std::string> response;
  if (answer) response = status_poll_response(poll, *answer, date_.now(), keep_alive);
  // A failed read or a task outside the caller's claims: the thread path
  // asks again and gives the error its proper answer.
  if (!response) return to_thread(fd, c);
  c.pending.erase(0, poll.request_bytes);
  ++c.served;
  c.close_after = !keep_alive;
  c.out = std::move(*response);
  c.out_sent = 0;
  c.state = phase::writing;
  c.idle_since = clock::now();
  if (ctx_.log->should_log(spdlog::level::debug)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(c.idle_since - c.asked);
    logging::log(*ctx_.log, spdlog::level::debug, "management api request",
                 {{"method", "GET"},
                  {"path", poll.path},
                  {"status", "200"},
                  {"ms", std::to_string(ms.count())}});
  }
  flush(fd, c);
}

void connection_reactor::flush(int fd, connection& c) {
  while (c.out_sent < c.out.size()) {
    const auto n = ::send(fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch(fd, EPOLLOUT);
    if (n < 0) return close_connection(fd);
    c.out_sent += static_cast<std::size_t>(n);
  }
  c.out.clear();
  if (c.close_after) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    connections_.erase(fd);
    return close_gently(fd);
  }
  c.state = phase::idle;
  c.idle_since = c.request_began = clock::now();
  // Pipelined: the next request may be here already.
  if (!c.pending.empty()) return judge(fd, c);
  watch(fd, EPOLLIN);
}

void connection_reactor::watch(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) close_connection(fd);
}

void connection_reactor::to_thread(int fd, connection& c) {
  auto pending = std::move(c.pending);
  auto slot = std::move(c.slot);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  connections_.erase(fd);
  set_blocking(fd, true);
  try {
    to_thread_(fd, std::move(pending), std::move(slot));
  } catch (const std::exception& e) {
    logging::log(*ctx_.log, spdlog::level::warn, "management api connection dropped",
                 {{"error", e.what()}});
  }
}

void connection_reactor::close_connection(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  connections_.erase(fd);
}

void connection_reactor::sweep(clock::time_point now) {
  const auto header_timeout = std::chrono::milliseconds(header_timeout_ms_.load());
  std::vector<int> late, expired;
  for (const auto& [fd, c] : connections_) {
    if (c.state != phase::idle) {
      // An answer the client does not read counts as idle.
      if (c.state == phase::writing && now - c.idle_since > options_.keep_alive)
        expired.push_back(fd);
    } else if (!c.pending.empty()) {
      if (now - c.request_began > header_timeout) late.push_back(fd);
    } else if (now - c.idle_since > options_.keep_alive) {
      expired.push_back(fd);
    }
  }
  for (int fd : expired) close_connection(fd);
  for (int fd : late) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) continue;
    refuse(fd, it->second, 408, "request_timeout",
           "the request's headers did not arrive within " + std::to_string(header_timeout.count()) +
               " ms");
  }
  if (!accepting_ && listen_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    accepting_ = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) == 0;
  }
  if (refused_ > 0 && now - refusals_logged_ >= refusal_log_interval) {
    logging::log(*ctx_.log, spdlog::level::warn,
                 "management api refused connections of clients over their connection limit",
                 {{"refused", std::to_string(refused_)},
                  {"last_client", refused_client_},
                  {"limit_per_client", std::to_string(limits_->per_client())}});
    refused_ = 0;
    refusals_logged_ = now;
  }
}

}  // namespace nomad_iis::http
