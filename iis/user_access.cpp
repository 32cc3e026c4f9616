#include "iis/user_access.hpp"

#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>

#include "iis/acl_holder.hpp"

namespace nomad_iis::iis {
namespace {

/// rwx of `bits` as the low three mode bits (R_OK=4, W_OK=2, X_OK=1 already are).
bool has(mode_t triple, int bits) {
  return (static_cast<int>(triple) & bits) == bits;
}

/// The permission triple an ACL entry naming `uid` grants, if there is one.
std::optional<mode_t> named_user_entry(acl_t acl, uid_t uid) {
  acl_holder holder{acl};
  if (!holder.acl) return std::nullopt;
  acl_entry_t entry;
  for (int which = ACL_FIRST_ENTRY; acl_get_entry(holder.acl, which, &entry) == 1;
       which = ACL_NEXT_ENTRY) {
    acl_tag_t tag;
    if (acl_get_tag_type(entry, &tag) != 0 || tag != ACL_USER) continue;
    auto* qualifier = static_cast<uid_t*>(acl_get_qualifier(entry));
    const bool named = qualifier && *qualifier == uid;
    if (qualifier) acl_free(qualifier);
    if (!named) continue;
    acl_permset_t perms;
    if (acl_get_permset(entry, &perms) != 0) return mode_t{0};
    mode_t triple = 0;
    if (acl_get_perm(perms, ACL_READ) == 1) triple |= 4;
    if (acl_get_perm(perms, ACL_WRITE) == 1) triple |= 2;
    if (acl_get_perm(perms, ACL_EXECUTE) == 1) triple |= 1;
    return triple;
  }
  return std::nullopt;
}

/// The decision of user_may once the object's stat and ACL are known.
bool may(const struct stat& st, const std::function<acl_t()>& read_acl, const unix_account& account,
         int bits) {
  if (account.uid == 0) {
    // root reads and writes anything; it executes what anyone may execute.
    return !(bits & X_OK) || S_ISDIR(st.st_mode) || (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH));
  }
  if (st.st_uid == account.uid) return has((st.st_mode >> 6) & 7, bits);
  if (auto entry = named_user_entry(read_acl(), account.uid)) {
    // With an ACL the group class bits of the mode are the mask.
    return has(*entry & ((st.st_mode >> 3) & 7), bits);
  }
  const bool in_group =
      st.st_gid == account.gid ||
      std::find(account.groups.begin(), account.groups.end(), st.st_gid) != account.groups.end();
  if (in_group) return has((st.st_mode >> 3) & 7, bits);
  return has(st.st_mode & 7, bits);
}

}  // namespace

bool user_may(const std::string& path, const unix_account& account, int bits) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return may(
      st, [&] { return acl_get_file(path.c_str(), ACL_TYPE_ACCESS); }, account, bits);
}

bool user_may(int fd, const unix_account& account, int bits) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return may(
      st, [&] { return acl_get_fd(fd); }, account, bits);
}

bool user_can_reach(const std::string& path, const unix_account& account) {
  namespace fs = std::filesystem;
  for (fs::path dir = fs::path(path).parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (!user_may(dir.string(), account, X_OK)) return false;
    if (dir == dir.parent_path()) break;
  }
  return true;
}

}  // namespace nomad_iis::iis
