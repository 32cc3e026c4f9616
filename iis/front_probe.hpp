#pragma once
// Reads what the site's front exposes to the plugin alone (front_status.hpp):
// its stub_status over the unix socket in logs/, the backlogs of the
// listening unix sockets where requests wait for a pool (sock_diag), and
// the open-requests log. Each call blocks briefly: blocking workers only.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iis/front_status.hpp"
#include "iis/model.hpp"

namespace nomad_iis::iis {

/// The status socket of front `generation` relative to `data_dir`, the working directory
/// of its nginx: nginx binds it by that name and the plugin reaches it
/// through the folder, so a long data dir never overflows sun_path.
std::string status_socket_name(const std::string& data_dir, std::uint32_t generation);

/// The front's connections by state from the socket `name` in `dir`;
/// nullopt when it does not answer within a second.
std::optional<connection_counts> read_stub_status(const std::string& dir, const std::string& name);

/// Requests waiting at the listening unix socket whose file is
/// `socket_path` (matched by the file's device and inode, which a hard link
/// shares, so every site's "run/pool-0.bind" stays apart): connections not
/// yet accepted, and accepted ones holding a request their worker has not
/// read (the front sends one request at a time on a kept connection); 0
/// when no socket listens there.
std::uint64_t waiting_requests(const std::string& socket_path);

/// Reads the open-requests log on from `state.offset` (from its first data
/// when nothing was read yet) and frees the blocks read; a shorter log
/// (a new one) is read from its start with nothing open. Requests of
/// workers that are children of none of `front_masters` (the front's
/// generations) are dropped: they died with their worker.
void read_open_requests(const std::string& log_path, const std::vector<process_ref>& front_masters,
                        open_requests& state);

}  // namespace nomad_iis::iis
