// nomad_iis_keeper: holds one activation socket (its descriptor 3) of a site
// while the plugin may be gone, and never accepts on it. With a command, it
// is also the pool's activator of last resort: when a connection waits and
// no plugin holds the site's lock, it execs the command (the pool's nginx,
// which inherits the socket), so an idle pool starts on demand while the
// plugin is down. A recovered plugin finds that nginx by its pid file.
//
//   nomad_iis_keeper LOCK PIDFILE STDOUT STDERR -- [PROGRAM ARG...]
//
// No dependencies: one of these runs per idle pool.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int socket_fd = 3;
/// How long to leave a waiting connection to a plugin that holds the lock
/// (it starts the pool itself) before looking again.
constexpr int plugin_grace_ms = 200;

constexpr int no_plugin_no_lock = -2;

/// When no plugin holds the site's lock (it holds it shared while attached),
/// takes it exclusively and returns its descriptor: a plugin that comes
/// meanwhile waits until our exec (close-on-exec releases it), and by then
/// the pid file names us. -1 while a plugin holds it.
int lock_if_plugin_gone(const char* lock_path) {
  const int fd = ::open(lock_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? no_plugin_no_lock : -1;  // ENOENT: the site is going
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  ::close(fd);
  return -1;
}

/// Names us as the pool's nginx before the exec keeps our pid: a plugin
/// that recovers while nginx still starts finds and adopts it.
void claim_pid_file(const char* pid_path) {
  const int fd = ::open(pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::write(fd, text.data(), text.size()) < 0) {
    // nginx writes it again once it runs
  }
  ::close(fd);
}

/// The pool's nginx already runs (started by a plugin just before it went).
bool already_running(const char* pid_path) {
  char text[32] = {};
  const int fd = ::open(pid_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const auto n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return false;
  const long pid = std::strtol(text, nullptr, 10);
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

/// A FIFO without a reader (no logmon) gives ENXIO: write to /dev/null instead.
void redirect(const char* path, int target) {
  int fd = ::open(path, O_WRONLY | O_NONBLOCK | O_APPEND | O_CLOEXEC);
  if (fd < 0) fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  ::dup2(fd, target);
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6 || std::strcmp(argv[5], "--") != 0 || ::fcntl(socket_fd, F_GETFD) < 0) {
    std::fprintf(stderr,
                 "nomad_iis_keeper is started by the nomad_iis plugin, not by hand: "
                 "LOCK PIDFILE STDOUT STDERR -- [PROGRAM ARG...] with a socket as fd 3\n");
    return 2;
  }
  const char* lock_path = argv[1];
  const char* pid_path = argv[2];
  std::vector<char*> command(argv + 6, argv + argc);
  if (command.empty()) {
    for (;;) ::pause();  // hold only
  }
  command.push_back(nullptr);
  for (;;) {
    pollfd waiting{socket_fd, POLLIN, 0};
    if (::poll(&waiting, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    const int lock = lock_if_plugin_gone(lock_path);
    if (lock == -1 || already_running(pid_path)) {
      if (lock >= 0) ::close(lock);
      ::usleep(plugin_grace_ms * 1000);
      continue;
    }
    claim_pid_file(pid_path);
    redirect(argv[3], STDOUT_FILENO);
    redirect(argv[4], STDERR_FILENO);
    ::execv(command[0], command.data());
    std::fprintf(stderr, "nomad_iis_keeper: exec %s: %s\n", command[0], std::strerror(errno));
    ::unlink(pid_path);
    return 127;
  }
}
