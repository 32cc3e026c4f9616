#include "iis/process.hpp"

#include "iis/proc_file.hpp"
#include "iis/user_access.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace nomad_iis::iis {
namespace {

/// P_PIDFD of linux/wait.h; glibc 2.36 does not name it.
constexpr auto p_pidfd = static_cast<idtype_t>(3);

// glibc 2.36's <sys/pidfd.h> lacks extern "C": the system calls themselves.
int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_send_signal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

/// What the child reports through the close-on-exec pipe when a step fails.
struct child_failure {
  int stage = 0;
  int error = 0;
};

enum spawn_stage : int {
  stage_setsid,
  stage_user,
  stage_chdir,
  stage_exec,
  stage_redirect,
  stage_nnp,
  stage_cgroup,
  stage_tty
};
constexpr std::array<const char*, 8> stage_names{
    "setsid",          "set user",          "chdir",       "exec",
    "redirect output", "no new privileges", "join cgroup", "controlling terminal"};

/// The fields after the command name of /proc/<pid>/stat (field 3 first).
std::optional<std::vector<std::string>> read_stat_fields(pid_t pid) {
  const auto stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  const std::string line = stat->substr(0, stat->find('\n'));
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  std::string field;
  while (rest >> field) fields.push_back(field);
  if (fields.size() < 20) return std::nullopt;
  return fields;
}

[[noreturn]] void child_fail(int pipe_fd, int stage) {
  child_failure failure{stage, errno};
  ssize_t ignored = ::write(pipe_fd, &failure, sizeof failure);
  (void)ignored;
  ::_exit(127);
}

/// What the child needs, prepared before fork (no allocation after it).
struct exec_plan {
  const spawn_request& request;
  char* const* argv;
  char* const* envp;
  int in_fd;
  int out_fd;
  int err_fd;
  bool switch_user;
  std::vector<int>& raised;               ///< sized for inherit_fds
  const std::vector<unique_fd>& cgroups;  ///< cgroup.procs files, opened for writing
};

/// Everything in the forked child until exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const exec_plan& plan, int report) {
  const auto& request = plan.request;
  const auto& inherited = request.inherit_fds;
  // Every source goes above the numbers the targets take (0..2 and 3, 4, ...),
  // so no dup2 below clobbers one still to be moved.
  const int first_raised = 3 + static_cast<int>(inherited.size());
  if (report < first_raised) report = ::fcntl(report, F_DUPFD_CLOEXEC, first_raised);
  if (report < 0) ::_exit(127);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    ::sigaction(sig, &action, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Own session: a site outlives the plugin, a helper's group can be killed whole.
  if (::setsid() < 0) child_fail(report, stage_setsid);
  // Before anything runs as the account: "0" is the writer itself.
  for (const auto& cgroup : plan.cgroups) {
    if (::write(cgroup.get(), "0", 1) != 1) child_fail(report, stage_cgroup);
  }
  const int in = ::fcntl(plan.in_fd, F_DUPFD_CLOEXEC, first_raised);
  const int out = ::fcntl(plan.out_fd, F_DUPFD_CLOEXEC, first_raised);
  const int err = ::fcntl(plan.err_fd, F_DUPFD_CLOEXEC, first_raised);
  if (in < 0 || out < 0 || err < 0) child_fail(report, stage_redirect);
  for (std::size_t i = 0; i < inherited.size(); ++i) {
    plan.raised[i] = ::fcntl(inherited[i], F_DUPFD_CLOEXEC, first_raised);
    if (plan.raised[i] < 0) child_fail(report, stage_redirect);
  }
  // dup2 leaves the target without close-on-exec.
  if (::dup2(in, 0) != 0 || ::dup2(out, 1) != 1 || ::dup2(err, 2) != 2) {
    child_fail(report, stage_redirect);
  }
  if (request.controlling_tty && ::ioctl(0, TIOCSCTTY, 0) != 0) child_fail(report, stage_tty);
  if (plan.switch_user) {
    const auto& account = *request.account;
    if (::setgroups(account.groups.size(), account.groups.data()) != 0 ||
        ::setgid(account.gid) != 0 || ::setuid(account.uid) != 0) {
      child_fail(report, stage_user);
    }
  }
  if (request.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    child_fail(report, stage_nnp);
  }
  // As the account: it must be able to reach its own working directory.
  if (!request.cwd.empty() && ::chdir(request.cwd.c_str()) != 0) child_fail(report, stage_chdir);
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (std::size_t i = 0; i < inherited.size(); ++i) {
    if (::dup2(plan.raised[i], 3 + static_cast<int>(i)) < 0) child_fail(report, stage_redirect);
  }
  ::execve(request.path.c_str(), plan.argv, plan.envp);
  child_fail(report, stage_exec);
}

/// The message for a step the child could not take.
std::string failure_message(const child_failure& failure, const spawn_request& request) {
  std::string what = stage_names[static_cast<std::size_t>(failure.stage) % stage_names.size()];
  if (failure.stage == stage_exec) what += " " + request.path;
  if (failure.stage == stage_chdir) what += " " + request.cwd;
  if (failure.stage == stage_cgroup) what += " " + join(request.cgroup_procs);
  if (failure.stage == stage_user && request.account) {
    const auto& account = *request.account;
    what += " " + (account.name.empty() ? std::to_string(account.uid) : account.name);
  }
  return what + ": " + std::strerror(failure.error);
}

exit_status status_of(const siginfo_t& info) {
  exit_status status;
  status.known = true;
  if (info.si_code == CLD_EXITED) {
    status.code = info.si_status;
  } else {
    status.signal = info.si_status;
  }
  return status;
}

/// waitid on a pidfd without blocking; nullopt while the process runs or
/// when it is not our child.
std::optional<exit_status> waitid_pidfd(int pidfd, int flags) {
  siginfo_t info{};
  if (::waitid(p_pidfd, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | flags) != 0 ||
      info.si_pid == 0) {
    return std::nullopt;
  }
  return status_of(info);
}

/// poll() until one of `fds` is ready or `deadline` passes (0); EINTR and
/// waits longer than poll's int milliseconds are taken care of.
int poll_until(pollfd* fds, nfds_t count, std::chrono::steady_clock::time_point deadline) {
  using namespace std::chrono;
  while (true) {
    int wait_ms = -1;
    if (deadline != steady_clock::time_point::max()) {
      const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
      // Rounded up, so a timeout means the deadline has passed.
      wait_ms = left < 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left + 1, INT_MAX));
    }
    const int ready = ::poll(fds, count, wait_ms);
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

}  // namespace

void set_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

std::optional<unix_account> find_account(const std::string& name) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 || !found) {
    return std::nullopt;
  }
  unix_account account;
  account.name = name;
  account.uid = pw.pw_uid;
  account.gid = pw.pw_gid;
  std::vector<char> group_buffer(16384);
  group gr{};
  group* group_found = nullptr;
  if (::getgrgid_r(pw.pw_gid, &gr, group_buffer.data(), group_buffer.size(), &group_found) == 0 &&
      group_found) {
    account.group = gr.gr_name;
  } else {
    account.group = std::to_string(pw.pw_gid);
  }
  int count = 32;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    ::getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &count);
  }
  groups.resize(static_cast<std::size_t>(count));
  account.groups = std::move(groups);
  return account;
}

std::optional<std::string> find_executable(const std::string& program, const std::string& cwd,
                                           const std::string& path_env,
                                           const std::optional<unix_account>& as) {
  auto usable = [&as](const std::string& candidate) {
    struct stat st {};
    if (::stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (as) return user_can_reach(candidate, *as) && user_may(candidate, *as, X_OK);
    return ::access(candidate.c_str(), X_OK) == 0;
  };
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    std::string candidate = program.front() == '/' ? program : cwd + "/" + program;
    candidate = std::filesystem::path(candidate).lexically_normal().string();
    if (usable(candidate)) return candidate;
    return std::nullopt;
  }
  std::size_t start = 0;
  while (start <= path_env.size()) {
    std::size_t end = path_env.find(':', start);
    if (end == std::string::npos) end = path_env.size();
    std::string dir = path_env.substr(start, end - start);
    if (!dir.empty()) {
      std::string candidate = (dir.front() == '/' ? dir : cwd + "/" + dir) + "/" + program;
      if (usable(candidate)) return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

child_process spawn_child(const spawn_request& request) {
  std::vector<char*> argv;
  for (const auto& arg : request.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : request.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  unique_fd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null) throw std::runtime_error(std::string("open /dev/null: ") + std::strerror(errno));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  unique_fd report_read(pipe_fds[0]);
  unique_fd report_write(pipe_fds[1]);
  std::vector<int> raised(request.inherit_fds.size(), -1);
  std::vector<unique_fd> cgroups;
  for (const auto& file : request.cgroup_procs) {
    cgroups.emplace_back(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!cgroups.back()) throw std::runtime_error("open " + file + ": " + std::strerror(errno));
  }
  const exec_plan plan{request,
                       argv.data(),
                       envp.data(),
                       request.stdin_fd >= 0 ? request.stdin_fd : dev_null.get(),
                       request.stdout_fd >= 0 ? request.stdout_fd : dev_null.get(),
                       request.stderr_fd >= 0 ? request.stderr_fd : dev_null.get(),
                       request.account && ::geteuid() == 0,
                       raised,
                       cgroups};

  // Signals stay blocked across fork so no handler of ours runs in the
  // child before it has reset them all.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(plan, report_write.get());
  const int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_error));
  // Nobody else reaps our child, so its PID still names it here.
  unique_fd pidfd(pidfd_open(pid));
  const int pidfd_error = errno;
  report_write.reset();
  child_failure failure{};
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  const bool failed = got == static_cast<ssize_t>(sizeof failure);
  if (failed || !pidfd) {
    if (!failed) ::kill(pid, SIGKILL);  // unreaped, so still ours
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error(failed ? failure_message(failure, request)
                                    : std::string("pidfd_open: ") + std::strerror(pidfd_error));
  }
  return child_process(process_ref{pid, read_start_ticks(pid).value_or(0)}, std::move(pidfd));
}

process_ref spawn_process(const spawn_request& request) {
  return spawn_child(request).release();
}

child_process::child_process(process_ref ref, unique_fd pidfd)
    : ref_(ref), pidfd_(std::move(pidfd)) {}

child_process::~child_process() {
  kill_group();
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    kill_group();
    ref_ = other.ref_;
    pidfd_ = std::move(other.pidfd_);
    exited_ = std::move(other.exited_);
  }
  return *this;
}

std::optional<exit_status> child_process::wait_until(
    std::chrono::steady_clock::time_point deadline) {
  if (exited_ || !pidfd_) return exited_;
  pollfd ready{pidfd_.get(), POLLIN, 0};
  if (poll_until(&ready, 1, deadline) > 0) {
    // WNOWAIT: it stays a zombie, its PID pinned, until kill_group reaps it.
    // Unknown when it ended but is not ours to wait for (someone reaped it).
    exited_ = waitid_pidfd(pidfd_.get(), WNOWAIT).value_or(exit_status{});
  }
  return exited_;
}

exit_status child_process::wait() {
  return wait_until(std::chrono::steady_clock::time_point::max()).value_or(exit_status{});
}

bool child_process::signal(int signal) {
  return pidfd_ && pidfd_send_signal(pidfd_.get(), signal) == 0;
}

exit_status child_process::kill_group() {
  if (!pidfd_) return exited_.value_or(exit_status{});
  // Still unreaped, so its PID numbers no other group: this reaches only what
  // it started in its session (Chromium's zygotes), never a stranger.
  ::kill(-ref_.pid, SIGKILL);
  pidfd_send_signal(pidfd_.get(), SIGKILL);  // in case it left its group
  siginfo_t info{};
  int waited = 0;
  do {
    waited = ::waitid(p_pidfd, static_cast<id_t>(pidfd_.get()), &info, WEXITED);
  } while (waited != 0 && errno == EINTR);
  if (!exited_ && waited == 0) exited_ = status_of(info);
  pidfd_.reset();
  return exited_.value_or(exit_status{});
}

process_ref child_process::release() {
  pidfd_.reset();
  return ref_;
}

run_result run_to_end(spawn_request request, std::chrono::milliseconds timeout,
                      std::size_t output_limit) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  unique_fd read_end(fds[0]);
  unique_fd write_end(fds[1]);
  // Ours only: the child's end stays blocking.
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
  request.stdout_fd = request.stderr_fd = write_end.get();
  auto child = spawn_child(request);
  write_end.reset();

  run_result result;
  auto read_available = [&] {
    char buffer[4096];
    ssize_t got = 0;
    while ((got = ::read(read_end.get(), buffer, sizeof buffer)) > 0) {
      result.output.append(buffer, static_cast<std::size_t>(got));
      if (result.output.size() > 2 * output_limit) {
        result.output.erase(0, result.output.size() - output_limit);
      }
    }
    return got == 0 || (errno != EAGAIN && errno != EINTR);  // end of output
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd watched[2] = {{read_end.get(), POLLIN, 0}, {child.pidfd(), POLLIN, 0}};
  std::optional<exit_status> exited;
  while (!exited) {
    if (poll_until(watched, 2, deadline) <= 0) break;
    if (watched[0].revents != 0 && read_available()) watched[0].fd = -1;  // poll skips it
    // Once it exited, what is left in the pipe is all it wrote; something it
    // left running may hold the pipe open, so no waiting for its end.
    if (watched[1].revents != 0) exited = child.wait_until(deadline);
  }
  if (watched[0].fd >= 0) read_available();
  result.timed_out = !exited;
  result.status = child.kill_group();
  if (result.output.size() > output_limit) {
    result.output.erase(0, result.output.size() - output_limit);
  }
  return result;
}

exit_status reap_exited(int pidfd) {
  return waitid_pidfd(pidfd, 0).value_or(exit_status{});
}

std::optional<std::uint64_t> read_start_ticks(pid_t pid) {
  auto fields = read_stat_fields(pid);
  if (!fields) return std::nullopt;
  try {
    return std::stoull((*fields)[19]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool is_alive(const process_ref& ref) {
  if (ref.pid <= 0) return false;
  auto fields = read_stat_fields(ref.pid);
  if (!fields) return false;
  const std::string& state = (*fields)[0];
  if (state == "Z" || state == "X" || state == "x") return false;
  try {
    return std::stoull((*fields)[19]) == ref.start_ticks;
  } catch (const std::exception&) {
    return false;
  }
}

unique_fd open_pidfd(const process_ref& ref) {
  if (ref.pid <= 0) return unique_fd{};
  unique_fd pidfd(pidfd_open(ref.pid));
  // The pidfd pins the process: if the start time matches now, it is `ref`.
  if (!pidfd || read_start_ticks(ref.pid) != ref.start_ticks) return unique_fd{};
  return pidfd;
}

unique_fd copy_fd_of(const unique_fd& pidfd, int fd) {
  unique_fd copy(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
  if (copy) set_cloexec(copy.get());
  return copy;
}

bool send_signal(const process_ref& ref, int signal) {
  const auto pidfd = open_pidfd(ref);
  return pidfd && pidfd_send_signal(pidfd.get(), signal) == 0;
}

std::string command_line(pid_t pid) {
  std::string text = read_small_file("/proc/" + std::to_string(pid) + "/cmdline").value_or("");
  for (auto& c : text) {
    if (c == '\0') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::vector<process_ref> group_members(pid_t group, const std::string& cwd) {
  std::vector<process_ref> members;
  DIR* dir = ::opendir("/proc");
  if (!dir) return members;
  while (dirent* entry = ::readdir(dir)) {
    if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(entry->d_name));
    auto fields = read_stat_fields(pid);  // [0] state, [1] ppid, [2] pgrp, ...
    if (!fields || (*fields)[0] == "Z" || (*fields)[2] != std::to_string(group)) continue;
    std::error_code error;
    const auto dir_of =
        std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", error);
    if (error || dir_of != std::filesystem::path(cwd)) continue;
    try {
      members.push_back(process_ref{pid, std::stoull((*fields)[19])});
    } catch (const std::exception&) {
    }
  }
  ::closedir(dir);
  return members;
}

std::vector<process_ref> children_of(const process_ref& parent) {
  std::vector<process_ref> children;
  if (!is_alive(parent)) return children;
  std::vector<pid_t> pids;
  const std::string base = "/proc/" + std::to_string(parent.pid);
  if (auto listed = read_small_file(base + "/task/" + std::to_string(parent.pid) + "/children")) {
    std::istringstream in(*listed);
    pid_t pid = 0;
    while (in >> pid) pids.push_back(pid);
  } else if (DIR* dir = ::opendir("/proc")) {
    // Kernels without CONFIG_PROC_CHILDREN: scan for the parent PID.
    while (dirent* entry = ::readdir(dir)) {
      if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
      const pid_t pid = static_cast<pid_t>(std::stol(entry->d_name));
      auto fields = read_stat_fields(pid);
      if (fields && (*fields)[1] == std::to_string(parent.pid)) pids.push_back(pid);
    }
    ::closedir(dir);
  }
  for (pid_t pid : pids) {
    auto fields = read_stat_fields(pid);
    if (!fields || (*fields)[0] == "Z") continue;
    try {
      children.push_back(process_ref{pid, std::stoull((*fields)[19])});
    } catch (const std::exception&) {
    }
  }
  return children;
}

}  // namespace nomad_iis::iis
