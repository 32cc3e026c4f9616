#include "iis/linux_exec.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

#include "common/unique_fd.hpp"
#include "iis/cgroup.hpp"
#include "iis/failure.hpp"
#include "iis/process.hpp"
#include "iis/process_monitor.hpp"

namespace nomad_iis::iis {
namespace {

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

/// The watches an exec'd command can have armed, one of each at a time.
enum watch_slot : std::size_t { out_watch, err_watch, input_watch, exit_watch, watch_slots };

class linux_exec_process final : public exec_process {
 public:
  linux_exec_process(child_process child, exec_fds fds, bool tty,
                     std::shared_ptr<process_monitor> monitor)
      : monitor_(std::move(monitor)),
        child_(std::move(child)),
        input_(std::move(fds.input)),
        output_(std::move(fds.output)),
        errors_(std::move(fds.errors)),
        tty_(tty) {
    for (int fd : {input_.get(), output_.get(), errors_.get()})
      if (fd >= 0) set_nonblocking(fd);
  }

  /// The watches go before the descriptors they name; child_ then kills the group.
  ~linux_exec_process() override {
    for (std::size_t slot = 0; slot < watch_slots; ++slot) drop_watch(slot);
  }

  exec_read read(exec_stream stream, std::size_t max) override;
  void await_output(exec_stream stream, ready_fn on_ready) override {
    const auto slot = stream == exec_stream::err ? err_watch : out_watch;
    arm(slot, output_of(stream), std::move(on_ready), &process_monitor::watch_readable);
  }

  bool write(std::string bytes, bool close) override;
  void await_input(ready_fn on_ready) override {
    arm(input_watch, input_, std::move(on_ready), &process_monitor::watch_writable);
  }

  void resize(std::uint16_t rows, std::uint16_t cols) override {
    const winsize size{rows, cols, 0, 0};
    if (tty_) ::ioctl(input_.get(), TIOCSWINSZ, &size);
  }

  std::optional<exit_status> exited() override {
    return child_.wait_until(std::chrono::steady_clock::now());
  }
  void await_exit(ready_fn on_ready) override {
    if (child_.pidfd() < 0 || exited()) {
      on_ready();
      return;
    }
    drop_watch(exit_watch);
    watches_[exit_watch] = monitor_->watch_readable(child_.pidfd(), std::move(on_ready));
  }

  void kill() override {
    // Unreaped, so its PID still names its group: this reaches nobody else.
    if (child_.pidfd() >= 0) ::kill(-child_.ref().pid, SIGKILL);
    child_.signal(SIGKILL);  // in case it left its group
  }

 private:
  using watch_fn = std::uint64_t (process_monitor::*)(int, std::function<void()>);

  unique_fd& output_of(exec_stream stream) {
    return stream == exec_stream::err ? errors_ : output_;
  }
  /// Watches `fd` for `slot`; a closed one is ready at once (its end).
  void arm(std::size_t slot, const unique_fd& fd, ready_fn on_ready, watch_fn watch) {
    drop_watch(slot);
    if (!fd) {
      on_ready();
      return;
    }
    watches_[slot] = ((*monitor_).*watch)(fd.get(), std::move(on_ready));
  }
  /// Before its descriptor closes: the monitor must not watch a reused number.
  void drop_watch(std::size_t slot) {
    if (watches_[slot]) monitor_->unwatch(watches_[slot]);
    watches_[slot] = 0;
  }
  void close_input() {
    drop_watch(input_watch);
    input_.reset();
  }

  std::shared_ptr<process_monitor> monitor_;
  child_process child_;
  unique_fd input_;   ///< its stdin; the pty master for a terminal
  unique_fd output_;  ///< its stdout; a second descriptor of that master for a terminal
  unique_fd errors_;  ///< its stderr; empty for a terminal
  const bool tty_;
  std::uint64_t watches_[watch_slots] = {};
  std::string pending_;   ///< input not yet taken
  bool closing_ = false;  ///< the input ends once pending_ is written
  std::string buffer_;    ///< read()'s, reused
};

exec_read linux_exec_process::read(exec_stream stream, std::size_t max) {
  auto& fd = output_of(stream);
  if (!fd) return {{}, true};
  buffer_.resize(max);
  ssize_t got = 0;
  do {
    got = ::read(fd.get(), buffer_.data(), max);
  } while (got < 0 && errno == EINTR);
  if (got > 0) return {buffer_.substr(0, static_cast<std::size_t>(got)), false};
  if (got < 0 && errno == EAGAIN) return {};
  // End of file, or EIO: the terminal's other side is gone.
  drop_watch(stream == exec_stream::err ? err_watch : out_watch);
  fd.reset();
  return {{}, true};
}

bool linux_exec_process::write(std::string bytes, bool close) {
  pending_ += bytes;
  closing_ = closing_ || close;
  if (!input_) pending_.clear();  // the command closed its input: nowhere to go
  while (!pending_.empty()) {
    const ssize_t wrote = ::write(input_.get(), pending_.data(), pending_.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return false;
      pending_.clear();  // the command closed its input: what is left has nowhere to go
      if (!tty_) close_input();
      break;
    }
    pending_.erase(0, static_cast<std::size_t>(wrote));
  }
  if (!closing_ || !input_) return true;
  if (tty_) {
    // A terminal has no end of its own: the line discipline's EOF character.
    const char eof = 4;
    const ssize_t wrote = ::write(input_.get(), &eof, 1);
    if (wrote < 0 && errno == EAGAIN) return false;
    closing_ = false;
    return true;
  }
  close_input();
  return true;
}

}  // namespace

std::shared_ptr<exec_process> start_exec_process(const exec_request& request,
                                                 std::shared_ptr<process_monitor> monitor) {
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
  return std::make_shared<linux_exec_process>(std::move(child), std::move(fds), request.tty,
                                              std::move(monitor));
}

}  // namespace nomad_iis::iis
