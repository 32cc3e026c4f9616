#pragma once
// The front's generations on the machine. Each generation is an nginx
// master of its own on members of the bindings' listen groups
// (listen_group.hpp): the plugin makes the members, hands them to the new
// master, and steers new connections to it while the previous generations
// finish the connections they have. Here: the members, the spawn request,
// the generations that run (their pid files), and the members a running
// generation holds (after a plugin restart).

#include <cstdint>
#include <optional>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/model.hpp"
#include "iis/process_types.hpp"

namespace nomad_iis::iis {

/// A front generation that runs.
struct front_generation {
  std::uint32_t number = 0;  ///< 0: started by an earlier release (layout::front_pid_file)
  process_ref master;
  bool operator==(const front_generation& other) const {
    return number == other.number && master == other.master;
  }
};

/// A new member of the listen group of each distinct binding address, in
/// the order the front's configuration lists them (listen_addresses()).
/// Throws backend_error naming the binding (port_in_use, ...).
std::vector<unique_fd> join_front_groups(const site_plan& plan);

/// Steering for the groups of `members` that sends their new connections
/// to `members`: one map per group, in the same order. Blocking.
std::vector<unique_fd> attach_front_steering(const std::vector<int>& members);
/// From now on the groups `maps` steer send new connections to `members`.
void steer_front_groups(const std::vector<int>& maps, const std::vector<int>& members);
/// Connections waiting in the accept queues of `members`.
std::size_t queued_front_connections(const std::vector<int>& members);

/// How front generation `generation` (>= 1) starts, listening on `members`
/// (handed over as fds 3, 4, ... with NGINX="3;4;...", nginx's own way).
spawn_request front_request(const site_plan& plan, std::uint32_t generation,
                            const std::vector<int>& members,
                            std::optional<std::size_t> served_pool = std::nullopt);

/// The front generations of the site that run, oldest first: masters named
/// by a front pid file that work in the site's folder on its front.conf.
std::vector<front_generation> running_front_generations(const site_plan& plan);

/// Copies of the members the running `master` of a generation >= 1 listens
/// on, checked to be listen group members on the site's addresses; empty
/// when they are not.
std::vector<unique_fd> take_front_members(const site_plan& plan, const process_ref& master);

}  // namespace nomad_iis::iis
