#pragma once
// POSIX ACL entries that let one more user into a file or folder, set on an
// open descriptor (never a path below a task directory): how the driver gives
// a pool's user access to folders it does not own, as IIS grants
// "IIS AppPool\<name>" rights on a site's folders. Owner, group and mode
// bits stay as they are; only a named-user entry (and the mask) change.

#include <sys/types.h>

namespace nomad_iis::iis {

/// ACL permission bits, as in a mode triple.
constexpr unsigned acl_read = 4, acl_write = 2, acl_execute = 1;

/// Adds `perms` for `uid` to the access ACL of what `fd` is open on (never
/// removing a right already there) and, for a folder with `inherit`, to its
/// default ACL too, so files and folders created in it later get them.
/// A new default ACL starts from the folder's mode without group and other
/// write bits (as a umask of 022 would). Returns false when the file system
/// has no ACLs; throws std::runtime_error on other failures.
bool grant_user_access(int fd, uid_t uid, unsigned perms, bool inherit);

}  // namespace nomad_iis::iis
