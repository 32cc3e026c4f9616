#include "adapters/http/reactor.hpp"

#include <fcntl.h>
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
#include "common/logging.hpp"

namespace nomad_iis::http {
namespace {

using clock = std::chrono::steady_clock;

/// How often idle connections are checked against the keep-alive timeout.
constexpr auto sweep_interval = std::chrono::milliseconds(500);
/// A request this path answers fits in here (else the thread path reads it).
constexpr std::size_t peek_size = 8 << 10;
constexpr int max_events = 256;

void set_blocking(int fd, bool blocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return;
  ::fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

}  // namespace

/// What other threads hand the reactor: adopted connections and answers.
struct connection_reactor::inbox {
  inbox() : wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (wake_fd < 0) throw std::runtime_error("eventfd failed");
  }
  ~inbox() {
    for (int fd : adopted) ::close(fd);
    ::close(wake_fd);
  }
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  bool post_connection(int fd) {
    std::lock_guard lock(mutex);
    if (stopped) return false;
    adopted.push_back(fd);
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
  std::vector<int> adopted;
  std::vector<std::pair<task_key, answer_ptr>> answers;
  const int wake_fd;
};

connection_reactor::connection_reactor(api_context& ctx, reactor_options options,
                                       hand_off to_thread)
    : ctx_(ctx),
      options_(options),
      to_thread_(std::move(to_thread)),
      inbox_(std::make_shared<inbox>()),
      peek_buffer_(peek_size) {}

connection_reactor::~connection_reactor() {
  stop();
}

void connection_reactor::start() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = inbox_->wake_fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, inbox_->wake_fd, &ev) != 0)
    throw std::runtime_error("epoll_ctl failed");
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

bool connection_reactor::adopt(int fd) {
  return inbox_->post_connection(fd);
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
      if (events[i].data.fd != inbox_->wake_fd) {
        on_ready(events[i].data.fd, events[i].events);
        continue;
      }
      drain_inbox();
      std::lock_guard lock(inbox_->mutex);
      if (inbox_->stopped) return;
    }
    start_reads();
    const auto now = clock::now();
    if (now >= next_sweep) {
      expire_idle(now);
      next_sweep = now + sweep_interval;
    }
  }
}

void connection_reactor::drain_inbox() {
  std::uint64_t count = 0;
  if (::read(inbox_->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN) return;
  std::vector<int> adopted;
  std::vector<std::pair<task_key, answer_ptr>> answers;
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->woken = false;
    adopted.swap(inbox_->adopted);
    answers.swap(inbox_->answers);
  }
  const auto now = clock::now();
  for (int fd : adopted) {
    set_blocking(fd, false);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    auto& c = connections_[fd];
    c = connection{};
    c.idle_since = now;
  }
  for (auto& [key, answer] : answers) on_answer(key, answer);
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
    read_request(fd, c);
  }
}

void connection_reactor::read_request(int fd, connection& c) {
  ssize_t n;
  do {
    n = ::recv(fd, peek_buffer_.data(), peek_buffer_.size(), MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch(fd, EPOLLIN);
  if (n <= 0) return close_connection(fd);  // the client closed, or the connection broke
  auto poll = recognize_status_poll({peek_buffer_.data(), static_cast<std::size_t>(n)}, ctx_.auth,
                                    std::chrono::system_clock::now());
  if (!poll) return to_thread(fd);
  auto& reads = reads_[poll->task];
  if (reads.in_flight) {
    reads.next.push_back(fd);
  } else {
    reads.current.push_back(fd);
    if (reads.current.size() == 1) to_start_.push_back(poll->task);
  }
  c.poll = std::move(poll);
  c.state = phase::waiting;
  c.asked = clock::now();
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
  if (!response) return to_thread(fd);
  // The request was only peeked at so far: take it off the socket now.
  std::size_t left = poll.request_bytes;
  while (left > 0) {
    const auto n = ::recv(fd, peek_buffer_.data(), std::min(left, peek_buffer_.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return close_connection(fd);
    left -= static_cast<std::size_t>(n);
  }
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
  if (c.close_after) return close_connection(fd);
  c.state = phase::idle;
  c.idle_since = clock::now();
  watch(fd, EPOLLIN);
}

void connection_reactor::watch(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) close_connection(fd);
}

void connection_reactor::to_thread(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  connections_.erase(fd);
  set_blocking(fd, true);
  try {
    to_thread_(fd);
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

void connection_reactor::expire_idle(clock::time_point now) {
  std::vector<int> expired;
  for (const auto& [fd, c] : connections_) {
    if (c.state != phase::waiting && now - c.idle_since > options_.keep_alive)
      expired.push_back(fd);
  }
  for (int fd : expired) close_connection(fd);
}

}  // namespace nomad_iis::http
