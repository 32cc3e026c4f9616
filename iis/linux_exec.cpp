#include "iis/linux_exec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "common/unique_fd.hpp"
#include "iis/cgroup.hpp"
#include "iis/failure.hpp"
#include "iis/process.hpp"

namespace nomad_iis::iis {
namespace {

constexpr std::size_t read_chunk = 32 * 1024;

[[noreturn]] void fail(const std::string& what) {
  throw backend_error(errc::process_failed, "exec: " + what + ": " + std::strerror(errno));
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/// The ends a command gets and the ends we keep.
struct exec_fds {
  unique_fd child_in, child_out, child_err;  ///< closed once it runs
  unique_fd input;                           ///< ours: its stdin (the pty master for a terminal)
  unique_fd output;                          ///< ours: its stdout (the same master for a terminal)
  unique_fd errors;                          ///< ours: its stderr; empty for a terminal
};

exec_fds open_pty() {
  exec_fds fds;
  unique_fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) fail("openpt");
  char name[64];
  if (::ptsname_r(master.get(), name, sizeof name) != 0) fail("ptsname");
  unique_fd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) fail(std::string("open ") + name);
  fds.child_out.reset(::dup(slave.get()));
  fds.child_err.reset(::dup(slave.get()));
  if (!fds.child_out || !fds.child_err) fail("dup");
  set_cloexec(fds.child_out.get());
  set_cloexec(fds.child_err.get());
  fds.child_in = std::move(slave);
  fds.output.reset(::dup(master.get()));
  if (!fds.output) fail("dup");
  set_cloexec(fds.output.get());
  fds.input = std::move(master);
  return fds;
}

/// A pipe: [0] the read end, [1] the write end.
std::pair<unique_fd, unique_fd> open_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) fail("pipe");
  return {unique_fd(ends[0]), unique_fd(ends[1])};
}

exec_fds open_pipes() {
  exec_fds fds;
  auto [in_read, in_write] = open_pipe();
  auto [out_read, out_write] = open_pipe();
  auto [err_read, err_write] = open_pipe();
  fds.child_in = std::move(in_read);
  fds.input = std::move(in_write);
  fds.child_out = std::move(out_write);
  fds.output = std::move(out_read);
  fds.child_err = std::move(err_write);
  fds.errors = std::move(err_read);
  return fds;
}

/// The task's cgroup leaf "exec", which the child joins before it execs (so
/// what it forks counts toward the task's limits too).
std::vector<std::string> exec_cgroup_procs(const exec_request& request) {
  try {
    return task_leaf_procs(request.cgroup, "exec");
  } catch (const std::exception& e) {
    throw backend_error(errc::io_failure, std::string("exec: the task's cgroup: ") + e.what());
  }
}

class linux_exec_process final : public exec_process {
 public:
  linux_exec_process(child_process child, exec_fds fds, bool tty)
      : child_(std::move(child)),
        input_(std::move(fds.input)),
        output_(std::move(fds.output)),
        errors_(std::move(fds.errors)),
        wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        tty_(tty) {
    if (!wake_) fail("eventfd");
    for (int fd : {input_.get(), output_.get(), errors_.get()})
      if (fd >= 0) set_nonblocking(fd);
  }

  exit_status pump(const output_fn& on_output) override;

  void write(std::string bytes) override {
    change([&] { queued_ += bytes; });
  }
  void close_input() override {
    change([&] { close_requested_ = true; });
  }
  void resize(std::uint16_t rows, std::uint16_t cols) override {
    change([&] { size_ = winsize{rows, cols, 0, 0}; });
  }
  void cancel() override {
    change([&] { cancelled_ = true; });
  }

 private:
  template <class Change>
  void change(Change&& apply) {
    {
      std::lock_guard lock(mutex_);
      apply();
    }
    const std::uint64_t one = 1;
    ssize_t ignored = ::write(wake_.get(), &one, sizeof one);
    (void)ignored;
  }

  /// Takes what the other threads asked for; false once cancelled.
  bool take_requests();
  /// Writes what is pending; closes the input once asked and all is written.
  void feed_input();
  /// Reads what `fd` has now; false at its end.
  bool drain(unique_fd& fd, exec_stream stream, const output_fn& on_output);

  child_process child_;
  unique_fd input_;
  unique_fd output_;
  unique_fd errors_;
  unique_fd wake_;
  const bool tty_;

  std::mutex mutex_;  ///< guards the requests below, held for assignments only
  std::string queued_;
  bool close_requested_ = false;
  bool cancelled_ = false;
  std::optional<winsize> size_;

  // pump()'s own.
  std::string pending_;
  bool closing_ = false;
};

bool linux_exec_process::take_requests() {
  std::uint64_t count = 0;
  ssize_t ignored = ::read(wake_.get(), &count, sizeof count);
  (void)ignored;
  std::optional<winsize> size;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return false;
    pending_ += std::move(queued_);
    queued_.clear();
    closing_ = closing_ || close_requested_;
    size.swap(size_);
  }
  if (size && tty_) ::ioctl(input_.get(), TIOCSWINSZ, &*size);
  return true;
}

void linux_exec_process::feed_input() {
  if (!input_) return;
  while (!pending_.empty()) {
    const ssize_t wrote = ::write(input_.get(), pending_.data(), pending_.size());
    if (wrote < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      pending_.clear();  // the command closed its input: what is left has nowhere to go
      break;
    }
    pending_.erase(0, static_cast<std::size_t>(wrote));
  }
  if (!closing_) return;
  if (tty_) {
    // A terminal has no end of its own: the line discipline's EOF character.
    const char eof = 4;
    if (::write(input_.get(), &eof, 1) == 1) closing_ = false;
    return;
  }
  input_.reset();
}

bool linux_exec_process::drain(unique_fd& fd, exec_stream stream, const output_fn& on_output) {
  char buffer[read_chunk];
  while (true) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got > 0) {
      on_output(stream, std::string(buffer, static_cast<std::size_t>(got)));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return true;
    return false;  // end of file, or EIO: the terminal's other side is gone
  }
}

exit_status linux_exec_process::pump(const output_fn& on_output) {
  std::optional<exit_status> ended;
  while (!ended) {
    if (!take_requests()) break;
    feed_input();
    // The terminal's one descriptor serves input and output; pipes have three.
    const int in_fd = tty_ ? -1 : input_.get();
    const short in_events = pending_.empty() && !(tty_ && closing_) ? 0 : POLLOUT;
    pollfd watched[5] = {{wake_.get(), POLLIN, 0},
                         {child_.pidfd(), POLLIN, 0},
                         {output_.get(), POLLIN, 0},
                         {errors_.get(), POLLIN, 0},
                         {in_events ? (tty_ ? output_.get() : in_fd) : -1, in_events, 0}};
    if (::poll(watched, 5, -1) < 0 && errno != EINTR) break;
    if (watched[2].revents && !drain(output_, exec_stream::out, on_output)) output_.reset();
    if (watched[3].revents && !drain(errors_, exec_stream::err, on_output)) errors_.reset();
    if (watched[4].revents & (POLLERR | POLLHUP)) {
      pending_.clear();
      if (!tty_) input_.reset();
    }
    // What is left once it ended is all it wrote; something it left running
    // may hold the output open, so no waiting for its end.
    if (watched[1].revents) ended = child_.wait_until(std::chrono::steady_clock::now());
  }
  if (ended) {
    if (output_) drain(output_, exec_stream::out, on_output);
    if (errors_) drain(errors_, exec_stream::err, on_output);
  }
  return child_.kill_group();
}

}  // namespace

std::shared_ptr<exec_process> start_exec_process(const exec_request& request) {
  spawn_request spawn;
  spawn.args = request.command;
  spawn.env = request.env;
  spawn.cwd = request.cwd;
  if (::geteuid() == 0 && request.run_as_user) {
    spawn.account = find_account(*request.run_as_user);
    if (!spawn.account)
      throw backend_error(errc::invalid_config, "unknown Unix user " + *request.run_as_user);
  }
  std::string path_env;
  for (const auto& entry : request.env)
    if (entry.rfind("PATH=", 0) == 0) path_env = entry.substr(5);
  const auto& program = request.command.front();
  auto found = find_executable(program, request.cwd, path_env, spawn.account);
  if (!found) {
    const std::string user = spawn.account ? spawn.account->name : "the plugin's user";
    throw backend_error(
        errc::not_found,
        "exec: \"" + program + "\": no executable file that " + user + " may run " +
            (program.find('/') == std::string::npos ? "in PATH=" + path_env : "at that path"));
  }
  spawn.path = *found;
  auto fds = request.tty ? open_pty() : open_pipes();
  spawn.stdin_fd = fds.child_in.get();
  spawn.stdout_fd = fds.child_out.get();
  spawn.stderr_fd = fds.child_err.get();
  spawn.controlling_tty = request.tty;
  spawn.cgroup_procs = exec_cgroup_procs(request);
  child_process child;
  try {
    child = spawn_child(spawn);
  } catch (const std::runtime_error& e) {
    throw backend_error(errc::process_failed, std::string("exec: ") + e.what());
  }
  fds.child_in.reset();
  fds.child_out.reset();
  fds.child_err.reset();
  return std::make_shared<linux_exec_process>(std::move(child), std::move(fds), request.tty);
}

}  // namespace nomad_iis::iis
