#include "iis/folder_access.hpp"

#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "iis/acl_holder.hpp"

namespace nomad_iis::iis {
namespace {

/// Adds the bits of `perms` (acl_read, acl_write, acl_execute) that `set`
/// lacks; true when it lacked one.
bool add_perms(acl_permset_t set, unsigned perms) {
  bool changed = false;
  for (acl_perm_t bit : {ACL_READ, ACL_WRITE, ACL_EXECUTE}) {
    if ((perms & bit) && acl_get_perm(set, bit) != 1) {
      acl_add_perm(set, bit);
      changed = true;
    }
  }
  return changed;
}

bool unsupported(int error) {
  return error == ENOTSUP || error == EOPNOTSUPP;
}

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

/// ORs `perms` into the ACL_USER entry of `uid` (made when missing); false
/// when the entry already had them all.
bool add_user_entry(acl_t* acl, uid_t uid, unsigned perms) {
  acl_entry_t entry;
  acl_permset_t set;
  for (int which = ACL_FIRST_ENTRY; acl_get_entry(*acl, which, &entry) == 1;
       which = ACL_NEXT_ENTRY) {
    acl_tag_t tag;
    if (acl_get_tag_type(entry, &tag) != 0 || tag != ACL_USER) continue;
    auto* qualifier = static_cast<uid_t*>(acl_get_qualifier(entry));
    const bool named = qualifier && *qualifier == uid;
    if (qualifier) acl_free(qualifier);
    if (!named) continue;
    if (acl_get_permset(entry, &set) != 0) fail("read ACL entry");
    return add_perms(set, perms);
  }
  if (acl_create_entry(acl, &entry) != 0 || acl_set_tag_type(entry, ACL_USER) != 0 ||
      acl_set_qualifier(entry, &uid) != 0 || acl_get_permset(entry, &set) != 0 ||
      acl_clear_perms(set) != 0)
    fail("build ACL entry");
  for (acl_perm_t bit : {ACL_READ, ACL_WRITE, ACL_EXECUTE})
    if (perms & bit) acl_add_perm(set, bit);
  return true;
}

/// Lets the mask pass `perms`; false when it already did. An existing mask
/// only gains those bits (so the owning group and other named users gain
/// nothing they were masked from); a minimal ACL gets the mask of its
/// entries. An entry inherited from a default ACL is masked by the mode it
/// was created with, so its mask may lack bits the entry has.
bool widen_mask(acl_t* acl, unsigned perms) {
  acl_entry_t entry;
  for (int which = ACL_FIRST_ENTRY; acl_get_entry(*acl, which, &entry) == 1;
       which = ACL_NEXT_ENTRY) {
    acl_tag_t tag;
    if (acl_get_tag_type(entry, &tag) != 0 || tag != ACL_MASK) continue;
    acl_permset_t set;
    if (acl_get_permset(entry, &set) != 0) fail("read ACL mask");
    return add_perms(set, perms);
  }
  if (acl_calc_mask(acl) != 0) fail("compute ACL mask");
  return true;
}

std::string triple(mode_t bits) {
  return std::string(bits & 4 ? "r" : "-") + (bits & 2 ? "w" : "-") + (bits & 1 ? "x" : "-");
}

}  // namespace

bool grant_user_access(int fd, uid_t uid, unsigned perms, bool inherit) {
  acl_holder access{acl_get_fd(fd)};
  if (!access.acl) {
    if (unsupported(errno)) return false;
    fail("read ACL");
  }
  const bool new_entry = add_user_entry(&access.acl, uid, perms);
  if (widen_mask(&access.acl, perms) || new_entry) {
    if (acl_set_fd(fd, access.acl) != 0) {
      if (unsupported(errno)) return false;
      fail("set ACL");
    }
  }
  if (!inherit) return true;
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("fstat");
  if (!S_ISDIR(st.st_mode)) return true;
  // Default ACLs have no descriptor call: /proc/self/fd/N names exactly the
  // object the descriptor is open on, whatever happens to its path meanwhile.
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  acl_holder defaults{acl_get_file(self.c_str(), ACL_TYPE_DEFAULT)};
  if (!defaults.acl) {
    if (unsupported(errno)) return false;
    fail("read default ACL");
  }
  if (acl_entries(defaults.acl) == 0) {
    const std::string base =
        "u::rwx,g::" + triple((st.st_mode >> 3) & 5) + ",o::" + triple(st.st_mode & 5);
    acl_holder fresh{acl_from_text(base.c_str())};
    if (!fresh.acl) fail("build default ACL");
    std::swap(defaults.acl, fresh.acl);
  }
  const bool new_default = add_user_entry(&defaults.acl, uid, perms);
  if (!widen_mask(&defaults.acl, perms) && !new_default) return true;
  if (acl_set_file(self.c_str(), ACL_TYPE_DEFAULT, defaults.acl) != 0) {
    if (unsupported(errno)) return false;
    fail("set default ACL");
  }
  return true;
}

}  // namespace nomad_iis::iis
