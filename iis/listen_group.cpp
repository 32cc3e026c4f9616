#include "iis/listen_group.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "iis/failure.hpp"
#include "iis/net_probe.hpp"
#include "iis/sock_diag.hpp"

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

namespace {

bpf_insn instruction(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
                     std::int32_t imm) {
  bpf_insn out{};
  out.code = code;
  out.dst_reg = dst & 0xf;
  out.src_reg = src & 0xf;
  out.off = off;
  out.imm = imm;
  return out;
}

/// The SK_REUSEPORT program: select the socket in slot 0 of `map`; SK_PASS
/// either way (an empty slot leaves the pick to the kernel's hash).
unique_fd load_steering_program(int map) {
  const bpf_insn program[] = {
      instruction(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0),  // r6 = ctx
      instruction(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),           // key = 0
      instruction(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD, 0, map),
      instruction(0, 0, 0, 0, 0),                                             // (its high half)
      instruction(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0),  // r3 = &key
      instruction(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -4),
      instruction(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0),  // flags
      instruction(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0),
      instruction(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_select_reuseport),
      instruction(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, SK_PASS),
      instruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  const int fd = ::bpf_prog_load(BPF_PROG_TYPE_SK_REUSEPORT, "iis_steer", "GPL", program,
                                 sizeof program / sizeof program[0], nullptr);
  if (fd < 0) {
    throw backend_error(errc::io_failure,
                        std::string("loading the steering program: ") + std::strerror(-fd));
  }
  return unique_fd(fd);
}

std::uint64_t cookie_of(int socket) {
  std::uint64_t cookie = 0;
  socklen_t size = sizeof cookie;
  if (::getsockopt(socket, SOL_SOCKET, SO_COOKIE, &cookie, &size) != 0) return 0;
  return cookie;
}

backend_error steering_failure(int error) {
  return backend_error(errc::io_failure,
                       std::string("steering to the member: ") + std::strerror(error));
}

/// Puts `member` in slot 0 (EBUSY while another map still holds it).
int put_in_slot(int map, int member) {
  const std::uint32_t key = 0;
  std::uint64_t current = 0;
  if (::bpf_map_lookup_elem(map, &key, &current) == 0 && current == cookie_of(member)) return 0;
  const std::uint64_t value = static_cast<std::uint64_t>(member);
  return ::bpf_map_update_elem(map, &key, &value, BPF_ANY) == 0 ? 0 : errno;
}

}  // namespace

unique_fd attach_listen_steering(int member) {
  const int map_fd = ::bpf_map_create(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, "iis_steer",
                                      sizeof(std::uint32_t), sizeof(std::uint64_t), 1, nullptr);
  if (map_fd < 0) {
    throw backend_error(errc::io_failure,
                        std::string("creating the steering map: ") + std::strerror(-map_fd));
  }
  unique_fd map(map_fd);
  const auto program = load_steering_program(map.get());
  const int fd = program.get();
  if (::setsockopt(member, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &fd, sizeof fd) != 0) {
    throw backend_error(errc::io_failure,
                        std::string("SO_ATTACH_REUSEPORT_EBPF: ") + std::strerror(errno));
  }
  // The program it replaced lets go of its map (and the member) a grace period later.
  int error = put_in_slot(map.get(), member);
  for (int tries = 0; error == EBUSY && tries < 200; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    error = put_in_slot(map.get(), member);
  }
  if (error != 0) throw steering_failure(error);
  return map;
}

void steer_listen_group(int map, int member) {
  if (const int error = put_in_slot(map, member); error != 0) throw steering_failure(error);
}

namespace {

/// `member`'s TCP_INFO when it is a listening TCP socket.
std::optional<tcp_info> listener_info(int member) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(member, IPPROTO_TCP, TCP_INFO, &info, &size) != 0 ||
      info.tcpi_state != TCP_LISTEN)
    return std::nullopt;
  return info;
}

/// The address family and port (network order) `member` listens on.
std::optional<std::pair<int, std::uint16_t>> listening_port(int member) {
  if (!listener_info(member)) return std::nullopt;
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(member, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return std::nullopt;
  if (bound.ss_family == AF_INET)
    return std::pair{AF_INET, reinterpret_cast<const sockaddr_in&>(bound).sin_port};
  if (bound.ss_family == AF_INET6)
    return std::pair{AF_INET6, reinterpret_cast<const sockaddr_in6&>(bound).sin6_port};
  return std::nullopt;
}

/// TCP sockets of `family` in SYN_RECV on one of `ports` (network order): one dump.
std::size_t handshakes_on(int family, const std::set<std::uint16_t>& ports) {
  inet_diag_req_v2 request{};
  request.sdiag_family = static_cast<std::uint8_t>(family);
  request.sdiag_protocol = IPPROTO_TCP;
  request.idiag_states = 1u << TCP_SYN_RECV;
  std::size_t count = 0;
  dump_sockets(request, [&](const nlmsghdr& socket) {
    if (socket.nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return;
    const auto* diag = static_cast<const inet_diag_msg*>(NLMSG_DATA(&socket));
    if (ports.count(diag->id.idiag_sport)) ++count;
  });
  return count;
}

}  // namespace

std::size_t queued_connections(int member) {
  const auto info = listener_info(member);
  return info ? info->tcpi_unacked : 0;  // a listener's accept queue
}

std::size_t handshaking_connections(const std::vector<int>& members) {
  std::map<int, std::set<std::uint16_t>> ports;  // by address family
  for (int member : members)
    if (const auto bound = listening_port(member)) ports[bound->first].insert(bound->second);
  std::size_t count = 0;
  for (const auto& [family, wanted] : ports) count += handshakes_on(family, wanted);
  return count;
}

}  // namespace nomad_iis::iis
