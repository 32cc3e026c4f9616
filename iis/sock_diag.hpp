#pragma once
// The kernel's socket dumps (NETLINK_SOCK_DIAG): one request, every
// matching socket's message back.

#include <linux/netlink.h>

#include <cstddef>
#include <functional>

namespace nomad_iis::iis {

/// Sends `request` (`size` bytes: an inet_diag_req_v2 or unix_diag_req with
/// its family and filters set) as a dump and calls `each` with the message
/// of every socket the kernel sends back. Throws backend_error (io_failure)
/// when the kernel cannot be asked or answers with an error.
void dump_sockets(const void* request, std::size_t size,
                  const std::function<void(const nlmsghdr&)>& each);

template <class Request>
void dump_sockets(const Request& request, const std::function<void(const nlmsghdr&)>& each) {
  dump_sockets(&request, sizeof request, each);
}

}  // namespace nomad_iis::iis
