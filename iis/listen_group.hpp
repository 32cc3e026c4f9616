#pragma once
// Listening sockets that generations of one nginx share an address with.
// Each generation listens on its own member of one SO_REUSEPORT group (only
// sockets of the same user may join it, and the plugin is root); an eBPF
// program on the group sends every new connection to one member, the
// newest generation's, named in a one-slot REUSEPORT_SOCKARRAY map, while
// any number of older generations keep serving the connections they
// already have until those end.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace nomad_iis::iis {

/// A new member of the group listening on `ip`:`port` (the first member
/// makes the group), with `backlog`. Throws backend_error: invalid_config
/// (not an address, a privileged port), port_in_use (another user's or a
/// non-group socket has it), io_failure.
unique_fd join_listen_group(const std::string& ip, std::int32_t port, int backlog);

/// Attaches a steering program to the group `member` belongs to (in place
/// of any other, a restarted plugin's included) that sends every new
/// connection to `member`; returns the program's map, which steers the
/// group from then on. While its slot is empty (the member it names
/// closed), connections spread over the members by hash, as without a
/// program. Blocking: a replaced program's map lets go of `member` only
/// after an RCU grace period. Throws backend_error (io_failure).
unique_fd attach_listen_steering(int member);

/// From now on the group `map` steers sends every new connection to
/// `member` (of that group). Quick. Throws backend_error (io_failure).
void steer_listen_group(int map, int member);

/// Connections the kernel completed for `member` that no process accepted
/// yet (0 when it is not a listening TCP socket): they would be reset if it
/// closed now.
std::size_t queued_connections(int member);

/// Connections whose handshake the kernel began on the ports `members`
/// listen on and has not completed (SYN_RECV), on any member of their
/// groups: the kernel does not say whose. Those that began on a member that
/// closes are lost, so a member may close at once only when this is 0 (one
/// dump per address family; members that do not listen count nothing).
/// Throws backend_error (io_failure) when the kernel cannot be asked.
std::size_t handshaking_connections(const std::vector<int>& members);

}  // namespace nomad_iis::iis
