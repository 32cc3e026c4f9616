#pragma once
// Listening sockets that generations of one nginx share an address with.
// Each generation listens on its own member of one SO_REUSEPORT group (only
// sockets of the same user may join it, and the plugin is root); a classic
// BPF program on the group sends every new connection to one member, the
// newest generation's, while older generations keep serving the
// connections they already have until those end.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/unique_fd.hpp"

namespace nomad_iis::iis {

/// A new member of the group listening on `ip`:`port` (the first member
/// makes the group), with `backlog`. Throws backend_error: invalid_config
/// (not an address, a privileged port), port_in_use (another user's or a
/// non-group socket has it), io_failure.
unique_fd join_listen_group(const std::string& ip, std::int32_t port, int backlog);

/// Sends every new connection of the group `member` belongs to, from now
/// on, to the member at `index`. Members are numbered in the order they
/// joined, and the kernel moves the last one into the slot of a member that
/// closes; an index past the end spreads connections over the members by
/// hash, as without a program. Throws backend_error (io_failure).
void steer_listen_group(int member, std::uint32_t index);

/// Connections the kernel completed for `member` that no process accepted
/// yet (0 when it is not a listening TCP socket): they would be reset if it
/// closed now.
std::size_t queued_connections(int member);

}  // namespace nomad_iis::iis
