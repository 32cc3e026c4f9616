#pragma once
// The sockets that let an application pool start on demand: the backend owns
// them while the pool has no worker, so a request waits in the listen backlog
// (HTTP.sys's queue) instead of failing, and a pending connection tells us to
// start the worker.

#include <cstdint>
#include <string>

#include "iis/process.hpp"

namespace nomad_iis::iis {

/// A listening unix socket bound as `bound_name` (relative to `dir`: it fits
/// sun_path whatever the length of `dir`, and nginx recognises an inherited
/// socket by exactly that string), then made reachable as `public_name`
/// through an atomic rename, so clients never see the name missing. Both
/// names are relative to `dir`. Throws std::runtime_error naming the step.
unique_fd listen_unix(const std::string& dir, const std::string& bound_name,
                      const std::string& public_name, int backlog);

/// Removes `name` (relative to `dir`) if it exists.
void remove_socket_file(const std::string& dir, const std::string& name);

/// Binds 127.0.0.1:`port` without listening: connections are refused while
/// nobody else can take the port. Empty when the port is in use.
unique_fd reserve_tcp_port(std::int32_t port);

/// A connection waits on the listening socket `fd`.
bool has_pending_connection(int fd);

}  // namespace nomad_iis::iis
