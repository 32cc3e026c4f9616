#pragma once
// Whether an application pool is idle, IIS's way: no request finished since
// the last look (the front appends a byte per request to the pool's activity
// log) and none is in progress (no open connection to the pool's workers).
// Cheap enough for 200 sites: a stat() per look, /proc only when it is quiet.

#include <cstdint>
#include <string>
#include <vector>

#include "iis/model.hpp"

namespace nomad_iis::iis {

/// True when the log at `path` holds anything; empties it for the next look.
bool take_activity(const std::string& path);

/// Connections the `processes` accepted on the unix socket bound as
/// `bound_name` and still hold open (/proc/<pid>/fd against /proc/net/unix).
std::size_t open_unix_connections(const std::vector<process_ref>& processes,
                                  const std::string& bound_name);

/// Established TCP connections whose local port is `port` (/proc/net/tcp{,6}).
std::size_t open_tcp_connections(std::int32_t port);
/// Connections that listeners on `port` completed and no process accepted yet.
std::size_t queued_tcp_connections(std::int32_t port);

}  // namespace nomad_iis::iis
