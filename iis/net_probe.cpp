#include "iis/net_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "iis/process.hpp"

namespace nomad_iis::iis {

bool make_address(const std::string& ip, std::int32_t port, bool for_connect,
                  sockaddr_storage& storage, socklen_t& length) {
  std::memset(&storage, 0, sizeof storage);
  std::string host = ip;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "*") host = for_connect ? "127.0.0.1" : "0.0.0.0";
  if (for_connect && host == "0.0.0.0") host = "127.0.0.1";
  if (for_connect && host == "::") host = "::1";
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::optional<failure> check_bindable(const std::string& ip, std::int32_t port) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!make_address(ip, port, false, address, length)) {
    return failure{errc::invalid_config, "not an IP address"};
  }
  unique_fd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return failure{errc::io_failure, std::strerror(errno)};
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as nginx does
  if (address.ss_family == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return bind_failure(errno);
  }
  return std::nullopt;
}

failure bind_failure(int error) {
  std::string reason = std::strerror(error);
  for (auto& c : reason) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const errc code = error == EADDRINUSE ? errc::port_in_use
                    : error == EACCES   ? errc::invalid_config
                                        : errc::io_failure;
  return failure{code, reason};
}

std::int32_t pick_loopback_port() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error(std::string("no free loopback port: ") + std::strerror(errno));
  }
  socklen_t length = sizeof address;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

bool accepts_tcp(const std::string& ip, std::int32_t port) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!make_address(ip, port, true, address, length)) return false;
  unique_fd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  timeval timeout{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) == 0;
}

bool accepts_unix(const std::string& dir, const std::string& name) {
  unique_fd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return false;
  const std::string path = "/proc/self/fd/" + std::to_string(dir_fd.get()) + "/" + name;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return false;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

}  // namespace nomad_iis::iis
