#pragma once
// Small socket checks: is an address free to listen on, does something accept
// on it yet, and a free loopback port for an application process.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

#include "iis/failure.hpp"

namespace nomad_iis::iis {

/// The socket address of `ip`:`port` ("" and "*" = all IPv4 addresses,
/// "[::]" = all IPv6 ones); `for_connect` maps the wildcards to loopback.
/// False when `ip` is not an address.
bool make_address(const std::string& ip, std::int32_t port, bool for_connect,
                  sockaddr_storage& storage, socklen_t& length);

/// nullopt when `ip`:`port` could be listened on right now ("" = all IPv4
/// addresses), else why not: port_in_use ("address already in use") when
/// another process has it, invalid_config when no retry can help (not an
/// address, a privileged port), else io_failure.
std::optional<failure> check_bindable(const std::string& ip, std::int32_t port);

/// Why a bind failed with `error` (errno), coded as check_bindable() does.
failure bind_failure(int error);

/// A TCP port on 127.0.0.1 that nothing listens on at this moment; throws
/// std::runtime_error when none can be had.
std::int32_t pick_loopback_port();

/// Whether a TCP connection to `ip`:`port` is accepted ("" and "::" mean
/// the local host). Never blocks longer than a local connect.
bool accepts_tcp(const std::string& ip, std::int32_t port);

/// Whether the unix socket `name` in directory `dir` accepts a connection.
/// Goes through /proc/self/fd so long directory paths still fit sun_path.
bool accepts_unix(const std::string& dir, const std::string& name);

}  // namespace nomad_iis::iis
