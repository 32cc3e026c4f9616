#include "adapters/http/growing_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace nomad_iis::http {

void growing_file::add(std::uint64_t n) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_ += n;
  }
  cv_.notify_all();
}

void growing_file::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  cv_.notify_all();
}

void growing_file::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = true;
}

bool growing_file::aborted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return aborted_;
}

std::uint64_t growing_file::wait_beyond(std::uint64_t pos) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return size_ > pos || finished_; });
  return size_;
}

growing_file_buf::growing_file_buf(int fd, growing_file& file, std::size_t buffer_size)
    : fd_(fd), file_(file), buf_(buffer_size) {
  setg(buf_.data(), buf_.data(), buf_.data());
}

std::uint64_t growing_file_buf::position() const {
  return base_ + static_cast<std::uint64_t>(gptr() - eback());
}

growing_file_buf::int_type growing_file_buf::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  const auto pos = position();
  const auto size = file_.wait_beyond(pos);
  if (size <= pos) return traits_type::eof();
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size - pos, buf_.size()));
  ssize_t n;
  do {
    n = ::pread(fd_, buf_.data(), want, static_cast<off_t>(pos));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return traits_type::eof();
  base_ = pos;
  setg(buf_.data(), buf_.data(), buf_.data() + n);
  return traits_type::to_int_type(*gptr());
}

growing_file_buf::pos_type growing_file_buf::seekoff(off_type off, std::ios_base::seekdir dir,
                                                     std::ios_base::openmode which) {
  if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
  std::int64_t target;
  if (dir == std::ios_base::beg) {
    target = off;
  } else if (dir == std::ios_base::cur) {
    target = static_cast<std::int64_t>(position()) + off;
  } else {  // from the end: only known once the writer finished
    std::uint64_t size = 0, probe = 0;
    while ((size = file_.wait_beyond(probe)) > probe) probe = size;
    target = static_cast<std::int64_t>(size) + off;
  }
  if (target < 0) return pos_type(off_type(-1));
  return seekpos(pos_type(target), which);
}

growing_file_buf::pos_type growing_file_buf::seekpos(pos_type pos, std::ios_base::openmode which) {
  if (!(which & std::ios_base::in) || pos < 0) return pos_type(off_type(-1));
  const auto target = static_cast<std::uint64_t>(static_cast<off_type>(pos));
  if (target >= base_ && target <= base_ + static_cast<std::uint64_t>(egptr() - eback())) {
    setg(eback(), eback() + (target - base_), egptr());  // inside the buffer
  } else {
    base_ = target;
    setg(buf_.data(), buf_.data(), buf_.data());
  }
  return pos;
}

}  // namespace nomad_iis::http
