#pragma once
// What another Unix user may do with a path, judged by the plugin (root)
// before it starts a process as that user: pool workers must find their
// programs and folders with their own rights, not root's.

#include <string>

#include "iis/process.hpp"

namespace nomad_iis::iis {

/// Whether `account` has all of `bits` (R_OK, W_OK, X_OK) on `path` itself,
/// by its mode bits and the ACL entries that name the user. nullopt-free:
/// a path that cannot be examined gives false.
bool user_may(const std::string& path, const unix_account& account, int bits);

/// The same for the file or folder `fd` is open on (no path is resolved).
bool user_may(int fd, const unix_account& account, int bits);

/// Whether `account` may pass through every folder above `path`.
bool user_can_reach(const std::string& path, const unix_account& account);

}  // namespace nomad_iis::iis
