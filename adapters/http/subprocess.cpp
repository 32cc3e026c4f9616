#include "adapters/http/subprocess.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/unique_fd.hpp"

extern char** environ;

namespace nomad_iis::http {
namespace {

/// What the child sends back through the report pipe when it cannot exec.
struct child_failure {
  int stage;
  int error;
};
constexpr const char* stage_names[] = {"setsid", "switch user", "exec", "set up descriptors"};

[[noreturn]] void child_fail(int report, int stage) {
  child_failure failure{stage, errno};
  [[maybe_unused]] auto n = ::write(report, &failure, sizeof failure);
  ::_exit(127);
}

/// dup2 then close the source (async-signal-safe).
bool move_fd(int from, int to) {
  if (::dup2(from, to) < 0) return false;
  ::close(from);
  return true;
}

/// Everything in the forked child until exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const subprocess_options& o, char* const* argv, char* const* envp,
                             int dev_null, int report, std::vector<int>& raised) {
  const int first_raised = 3 + static_cast<int>(o.inherit_fds.size());
  if (report < first_raised) report = ::fcntl(report, F_DUPFD_CLOEXEC, first_raised);
  if (report < 0) ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    ::sigaction(sig, &action, nullptr);
  }
  // Own session: a timeout kills the helper and everything it started.
  if (::setsid() < 0) child_fail(report, 0);
  // Raise every source above the target numbers first so none is clobbered.
  const int in = ::fcntl(dev_null, F_DUPFD_CLOEXEC, first_raised);
  const int out = ::fcntl(dev_null, F_DUPFD_CLOEXEC, first_raised);
  const int err = ::fcntl(o.stderr_fd >= 0 ? o.stderr_fd : dev_null, F_DUPFD_CLOEXEC, first_raised);
  if (in < 0 || out < 0 || err < 0) child_fail(report, 3);
  for (std::size_t i = 0; i < o.inherit_fds.size(); ++i) {
    raised[i] = ::fcntl(o.inherit_fds[i], F_DUPFD_CLOEXEC, first_raised);
    if (raised[i] < 0) child_fail(report, 3);
  }
  if (!move_fd(in, 0) || !move_fd(out, 1) || !move_fd(err, 2)) child_fail(report, 3);
  if (o.user && ::geteuid() == 0) {
    // Only its own group; no way back to more privileges (setuid programs).
    if (::setgroups(1, &o.user->gid) != 0 || ::setgid(o.user->gid) != 0 ||
        ::setuid(o.user->uid) != 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
      child_fail(report, 1);
  }
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (std::size_t i = 0; i < raised.size(); ++i) {
    // dup2 leaves the target without close-on-exec.
    if (::dup2(raised[i], 3 + static_cast<int>(i)) < 0) child_fail(report, 3);
  }
  ::execve(argv[0], argv, envp);
  child_fail(report, 2);
}

}  // namespace

child_session::child_session(const subprocess_options& o) {
  if (o.argv.empty()) {
    error_ = "no program to run";
    return;
  }
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : o.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  unique_fd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int report_fds[2];
  if (!dev_null || ::pipe2(report_fds, O_CLOEXEC) != 0) {
    error_ = std::string("cannot start ") + o.argv[0] + ": " + std::strerror(errno);
    return;
  }
  unique_fd report_read(report_fds[0]);
  unique_fd report_write(report_fds[1]);
  std::vector<int> raised(o.inherit_fds.size(), -1);  // allocated before fork

  const pid_t pid = ::fork();
  if (pid < 0) {
    error_ = std::string("cannot start ") + o.argv[0] + ": fork: " + std::strerror(errno);
    return;
  }
  if (pid == 0)
    exec_child(o, argv.data(), o.env.empty() ? environ : envp.data(), dev_null.get(),
               report_write.get(), raised);
  report_write.reset();
  child_failure failure{};
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    error_ = std::string("cannot start ") + o.argv[0] + ": " +
             stage_names[static_cast<unsigned>(failure.stage) % 4] + ": " +
             std::strerror(failure.error);
    return;
  }
  pid_ = pid;
}

child_session::~child_session() {
  kill_group();
}

bool child_session::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (pid_ <= 0 || reaped_) return true;
  auto delay = std::chrono::milliseconds(5);
  while (true) {
    // WNOWAIT: the helper stays a zombie, so its PID (our process group's
    // number) cannot be reused before kill_group has signalled the group.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid_) {
      exit_code_ = info.si_code == CLD_EXITED ? info.si_status : -1;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(delay);
    if (delay < std::chrono::milliseconds(50)) delay *= 2;
  }
}

void child_session::kill_group() {
  if (pid_ <= 0 || reaped_) return;
  // Whatever the helper left running in its session goes too (Chromium's zygotes).
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

subprocess_result run_subprocess(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout,
                                 const std::string& stderr_file) {
  subprocess_result r;
  unique_fd err(
      ::open(stderr_file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!err) {
    r.error = "cannot create " + stderr_file + ": " + std::strerror(errno);
    return r;
  }
  subprocess_options o;
  o.argv = argv;
  o.env = env;
  o.stderr_fd = err.get();
  child_session child(o);
  if (!child.started()) {
    r.error = child.error();
    return r;
  }
  r.started = true;
  r.timed_out = !child.wait_until(std::chrono::steady_clock::now() + timeout);
  child.kill_group();
  if (!r.timed_out) r.exit_code = child.exit_code();
  r.stderr_tail = file_tail(err.get());
  return r;
}

std::string file_tail(int fd, std::size_t max) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return {};
  const auto size = static_cast<std::size_t>(st.st_size);
  const auto from = size > max ? size - max : 0;
  std::string text(size - from, '\0');
  const auto got = ::pread(fd, text.data(), text.size(), static_cast<off_t>(from));
  text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return text;
}

}  // namespace nomad_iis::http
