#pragma once
// Keeps an activation socket alive while the plugin is gone. The backend owns
// the listening sockets of idle pools; a kill -9 of the plugin would close
// them, and the front's requests would be refused until a recovery. A keeper
// is a process of its own session that holds a copy of one socket and never
// accepts: requests queue in the backlog instead, and the recovered plugin
// takes the very same socket back (pidfd_getfd) and serves them.

#include <optional>
#include <string>

#include "iis/launcher.hpp"
#include "iis/model.hpp"
#include "iis/process.hpp"
#include "iis/site_host.hpp"

namespace nomad_iis::iis {

/// Starts a keeper holding `socket_fd` (the nomad_iis_keeper program from
/// nomad_iis.d/ beside this executable; without it a plain holder without
/// activation). Throws std::runtime_error naming the cause.
process_ref start_keeper(int socket_fd, const keeper_spec& spec);

/// Takes the site's lock shared (see keeper_spec::lock_path); the returned
/// descriptor holds it until closed. Throws std::runtime_error.
unique_fd hold_site_lock(const std::string& lock_path);

/// The live process recorded at `record_path`: the keeper, or the nginx it
/// became. nullopt when none runs.
std::optional<process_ref> recorded_keeper(const std::string& record_path);

/// The socket held by the keeper recorded at `record_path`, duplicated into
/// this process. nullopt when there is no record, the keeper is gone, or the
/// kernel does not let us take it (pidfd_getfd needs ptrace rights on it).
std::optional<kept_socket> take_back_socket(const std::string& record_path);

/// Kills the keeper recorded at `record_path` (if it still runs) and removes
/// the record. Once every copy of a listening socket is closed, what waits in
/// its backlog is reset.
void stop_keeper(const std::string& record_path);

}  // namespace nomad_iis::iis
