#include "iis/sock_diag.hpp"

#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/failure.hpp"

namespace nomad_iis::iis {
namespace {

[[noreturn]] void failed(const char* what, int error) {
  throw backend_error(errc::io_failure,
                      std::string("sock_diag ") + what + ": " + std::strerror(error));
}

}  // namespace

void dump_sockets(const void* request, std::size_t size,
                  const std::function<void(const nlmsghdr&)>& each) {
  const unique_fd netlink(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!netlink) failed("socket", errno);
  std::vector<char> message(NLMSG_SPACE(size));
  auto* header = reinterpret_cast<nlmsghdr*>(message.data());
  header->nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(size));
  header->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  std::memcpy(NLMSG_DATA(header), request, size);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(netlink.get(), message.data(), header->nlmsg_len, 0,
               reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    failed("send", errno);
  std::vector<char> buffer(1u << 16);
  for (;;) {
    const auto got = ::recv(netlink.get(), buffer.data(), buffer.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) failed("recv", errno);
    if (got == 0) failed("recv", EPIPE);
    auto left = static_cast<unsigned int>(got);
    for (auto* answer = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(answer, left);
         answer = NLMSG_NEXT(answer, left)) {
      if (answer->nlmsg_type == NLMSG_DONE) return;
      if (answer->nlmsg_type == NLMSG_ERROR)
        failed("dump", -static_cast<const nlmsgerr*>(NLMSG_DATA(answer))->error);
      each(*answer);
    }
  }
}

}  // namespace nomad_iis::iis
