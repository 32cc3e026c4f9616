#pragma once
// The pools' workers run as other users (www-data, nobody, ...) when the
// plugin is root. They must be able to pass through every folder above the
// alloc dir to reach their files; Nomad's data dir, or a host's temporary
// alloc root, may be 0700. This grants exactly that and nothing more.

#include <string>
#include <vector>

#include "iis/model.hpp"

namespace nomad_iis::iis {

/// For each pool user (when root): every folder from the alloc dir's parent up
/// to "/" that the user cannot search gets a POSIX ACL entry "u:<user>:--x"
/// (traverse only: no listing, no reading). Where the file system has no ACLs,
/// others' search bit is set instead. Returns what was changed, as
/// "<folder> (<how>, <user>)", for an event. Throws std::runtime_error when a
/// folder can be neither.
std::vector<std::string> grant_ancestor_search(const site_plan& plan);

}  // namespace nomad_iis::iis
