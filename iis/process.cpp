#include "iis/process.hpp"

#include "iis/proc_file.hpp"
#include "iis/user_access.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace nomad_iis::iis {
namespace {

/// What the child reports through the close-on-exec pipe when a step fails.
struct child_failure {
  int stage = 0;
  int error = 0;
};

constexpr std::array<const char*, 5> stage_names{"setsid", "set user", "chdir", "exec",
                                                 "redirect output"};

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

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

/// dup2 that also clears close-on-exec when source and target are the same fd.
bool move_fd(int from, int to) {
  if (from == to) return ::fcntl(to, F_SETFD, 0) == 0;
  return ::dup2(from, to) == to;
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

process_ref spawn_process(const spawn_request& request) {
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
  const bool switch_user = request.account && ::geteuid() == 0;
  const int out_fd = request.stdout_fd >= 0 ? request.stdout_fd : dev_null.get();
  const int err_fd = request.stderr_fd >= 0 ? request.stderr_fd : dev_null.get();
  const std::vector<int>& inherited = request.inherit_fds;
  std::vector<int> raised(inherited.size(), -1);  // allocated before fork

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: async-signal-safe calls only until exec. The report pipe moves
    // above the numbers the inherited descriptors will take.
    const int first_raised = 3 + static_cast<int>(inherited.size());
    int report = report_write.get();
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
    if (::setsid() < 0) child_fail(report, 0);
    // Raise the targets above 2 first so a source fd of 0..2 is not clobbered.
    const int out = ::fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
    const int err = ::fcntl(err_fd, F_DUPFD_CLOEXEC, 3);
    const int in = ::fcntl(dev_null.get(), F_DUPFD_CLOEXEC, 3);
    if (out < 0 || err < 0 || in < 0) child_fail(report, 4);
    // Raised copies of the inherited descriptors, above every target number.
    for (std::size_t i = 0; i < inherited.size(); ++i) {
      raised[i] = ::fcntl(inherited[i], F_DUPFD_CLOEXEC, first_raised);
      if (raised[i] < 0) child_fail(report, 4);
    }
    if (!move_fd(in, 0) || !move_fd(out, 1) || !move_fd(err, 2)) child_fail(report, 4);
    if (switch_user) {
      const auto& account = *request.account;
      if (::setgroups(account.groups.size(), account.groups.data()) != 0 ||
          ::setgid(account.gid) != 0 || ::setuid(account.uid) != 0) {
        child_fail(report, 1);
      }
    }
    if (!request.cwd.empty() && ::chdir(request.cwd.c_str()) != 0) child_fail(report, 2);
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    for (std::size_t i = 0; i < inherited.size(); ++i) {
      // dup2 leaves the target without close-on-exec.
      if (::dup2(raised[i], 3 + static_cast<int>(i)) < 0) child_fail(report, 4);
    }
    ::execve(request.path.c_str(), argv.data(), envp.data());
    child_fail(report, 3);
  }
  report_write.reset();
  child_failure failure{};
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::string what = stage_names[static_cast<std::size_t>(failure.stage) % stage_names.size()];
    if (failure.stage == 3) what += " " + request.path;
    if (failure.stage == 2) what += " " + request.cwd;
    if (failure.stage == 1 && request.account) what += " " + request.account->name;
    throw std::runtime_error(what + ": " + std::strerror(failure.error));
  }
  process_ref ref;
  ref.pid = pid;
  ref.start_ticks = read_start_ticks(pid).value_or(0);
  return ref;
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

int signal_from_name(std::string_view name) {
  static const std::map<std::string, int> names{
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
      {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
      {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
      {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"PWR", SIGPWR},       {"SYS", SIGSYS}};
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind("SIG", 0) == 0) upper.erase(0, 3);
  if (!upper.empty() && std::all_of(upper.begin(), upper.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    if (upper.size() > 3) return 0;
    const int number = std::stoi(upper);
    return number > 0 && number < NSIG ? number : 0;
  }
  auto it = names.find(upper);
  return it == names.end() ? 0 : it->second;
}

std::string describe(const exit_status& status) {
  if (!status.known) return "status unknown";
  if (status.signal != 0) return "signal " + std::to_string(status.signal);
  return "code " + std::to_string(status.code);
}

}  // namespace nomad_iis::iis
