#include "iis/process_monitor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nomad_iis::iis {

process_monitor::process_monitor() {
  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epoll_fd_ || !wake_fd_) {
    throw std::runtime_error(std::string("process monitor: ") + std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 0;  // id 0 = the wake-up eventfd
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &event);
  thread_ = std::thread([this] { run(); });
}

process_monitor::~process_monitor() {
  const std::uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof one);
  (void)ignored;
  thread_.join();
}

std::uint64_t process_monitor::watch(const process_ref& process, callback on_exit) {
  auto pidfd = open_pidfd(process);
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
  }
  if (!pidfd) {  // gone, or its PID names another process now
    on_exit(exit_status{});
    return id;
  }
  const int fd = pidfd.get();
  std::lock_guard lock(mutex_);
  entries_.emplace(id, entry{fd, std::move(pidfd), process, std::move(on_exit), nullptr});
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = id;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event);
  return id;
}

std::uint64_t process_monitor::watch_readable(int fd, std::function<void()> on_ready) {
  return watch_fd(fd, EPOLLIN, std::move(on_ready));
}

std::uint64_t process_monitor::watch_writable(int fd, std::function<void()> on_ready) {
  return watch_fd(fd, EPOLLOUT, std::move(on_ready));
}

std::uint64_t process_monitor::watch_fd(int fd, std::uint32_t events,
                                        std::function<void()> on_ready) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  entries_.emplace(id, entry{fd, unique_fd{}, process_ref{}, nullptr, std::move(on_ready)});
  epoll_event event{};
  event.events = events | EPOLLONESHOT;
  event.data.u64 = id;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    entries_.erase(id);
    throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return id;
}

void process_monitor::unwatch(std::uint64_t id) {
  callback dropped;  // destroyed after the lock is released
  std::function<void()> dropped_ready;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
  if (it->second.on_ready) {
    dropped_ready = std::move(it->second.on_ready);
    entries_.erase(it);
    return;
  }
  // Reap it if it is our child and has ended already; no zombie is left behind.
  reap_exited(it->second.pidfd.get());
  dropped = std::move(it->second.on_exit);
  entries_.erase(it);
}

std::size_t process_monitor::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void process_monitor::run() {
  epoll_event events[64];
  while (true) {
    const int count = ::epoll_wait(epoll_fd_.get(), events, 64, -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < count; ++i) {
      if (events[i].data.u64 == 0) return;
      finish(events[i].data.u64);
    }
  }
}

void process_monitor::finish(std::uint64_t id) {
  entry item;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    item = std::move(it->second);
    entries_.erase(it);
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, item.fd, nullptr);
  }
  if (item.on_ready) {
    item.on_ready();
    return;
  }
  // Only our children can be waited for; others stay "unknown".
  const exit_status status = reap_exited(item.pidfd.get());
  item.on_exit(status);
}

}  // namespace nomad_iis::iis
