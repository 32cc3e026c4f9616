#include "iis/activation_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace nomad_iis::iis {
namespace {

std::runtime_error failure(const std::string& what, int error) {
  return std::runtime_error(what + ": " + std::strerror(error));
}

/// bind() with a path relative to `dir_fd`. A short-lived thread with its own
/// working directory (unshare(CLONE_FS)) does it, because chdir() would move
/// every thread of the plugin.
int bind_relative(int socket_fd, int dir_fd, const std::string& name) {
  int error = 0;
  std::thread worker([&] {
    if (::unshare(CLONE_FS) != 0 || ::fchdir(dir_fd) != 0) {
      error = errno;
      return;
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.c_str(), name.size() + 1);
    if (::bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      error = errno;
      return;
    }
    // The front's workers may run as another user; the run/ folder guards access.
    if (::chmod(name.c_str(), 0666) != 0) error = errno;
  });
  worker.join();
  return error;
}

}  // namespace

unique_fd listen_unix(const std::string& dir, const std::string& bound_name,
                      const std::string& public_name, int backlog) {
  if (bound_name.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("socket name " + bound_name + " is too long");
  }
  unique_fd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) throw failure("open " + dir, errno);
  if (::unlinkat(dir_fd.get(), bound_name.c_str(), 0) != 0 && errno != ENOENT) {
    throw failure("unlink " + bound_name, errno);
  }
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw failure("socket", errno);
  if (const int error = bind_relative(fd.get(), dir_fd.get(), bound_name)) {
    throw failure("bind " + bound_name, error);
  }
  if (::listen(fd.get(), backlog) != 0) throw failure("listen " + bound_name, errno);
  if (public_name != bound_name) {
    const std::string staged = public_name + ".new";
    ::unlinkat(dir_fd.get(), staged.c_str(), 0);
    if (::linkat(dir_fd.get(), bound_name.c_str(), dir_fd.get(), staged.c_str(), 0) != 0) {
      throw failure("link " + staged, errno);
    }
    if (::renameat(dir_fd.get(), staged.c_str(), dir_fd.get(), public_name.c_str()) != 0) {
      const int error = errno;
      ::unlinkat(dir_fd.get(), staged.c_str(), 0);
      throw failure("rename " + public_name, error);
    }
  }
  return fd;
}

void remove_socket_file(const std::string& dir, const std::string& name) {
  ::unlink((dir + "/" + name).c_str());
}

unique_fd reserve_tcp_port(std::int32_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Without SO_REUSEADDR first: that keeps every other socket off the port.
  // The app's closed connections in TIME_WAIT refuse that bind, though; then
  // SO_REUSEADDR still keeps off whoever binds without it.
  for (const int reuse : {0, 1}) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    if (reuse) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
  }
  return unique_fd();
}

bool has_pending_connection(int fd) {
  pollfd item{fd, POLLIN, 0};
  return ::poll(&item, 1, 0) > 0 && (item.revents & POLLIN);
}

}  // namespace nomad_iis::iis
