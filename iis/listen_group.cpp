#include "iis/listen_group.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "iis/failure.hpp"
#include "iis/net_probe.hpp"

namespace nomad_iis::iis {

unique_fd join_listen_group(const std::string& ip, std::int32_t port, int backlog) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!make_address(ip, port, false, address, length)) {
    throw backend_error(errc::invalid_config, "not an IP address: " + ip);
  }
  unique_fd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw backend_error(errc::io_failure, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  // SO_REUSEADDR as nginx sets it; IPV6_V6ONLY as nginx's default for [::].
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw backend_error(errc::io_failure, std::string("SO_REUSEPORT: ") + std::strerror(errno));
  }
  if (address.ss_family == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    auto why = bind_failure(errno);
    throw backend_error(why.code, why.message);
  }
  if (::listen(fd.get(), backlog) != 0) {
    auto why = bind_failure(errno);
    throw backend_error(why.code, "listen: " + why.message);
  }
  return fd;
}

void steer_listen_group(int member, std::uint32_t index) {
  // One instruction: return `index`, the member that takes the connection.
  sock_filter program[] = {{BPF_RET | BPF_K, 0, 0, index}};
  sock_fprog fprog{};
  fprog.len = 1;
  fprog.filter = program;
  if (::setsockopt(member, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof fprog) != 0) {
    throw backend_error(errc::io_failure,
                        std::string("SO_ATTACH_REUSEPORT_CBPF: ") + std::strerror(errno));
  }
}

std::size_t queued_connections(int member) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(member, IPPROTO_TCP, TCP_INFO, &info, &size) != 0 ||
      info.tcpi_state != TCP_LISTEN)
    return 0;
  return info.tcpi_unacked;  // a listener's accept queue
}

}  // namespace nomad_iis::iis
