#include "iis/ancestor_access.hpp"

#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "iis/process.hpp"
#include "iis/user_access.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

/// Owns an acl_t.
struct acl_holder {
  acl_t acl = nullptr;
  ~acl_holder() {
    if (acl) acl_free(acl);
  }
};

/// Adds "u:<uid>:--x" to the folder's access ACL. False when ACLs are unsupported.
bool add_search_entry(const std::string& dir, const unix_account& account) {
  acl_holder holder{acl_get_file(dir.c_str(), ACL_TYPE_ACCESS)};
  if (!holder.acl) {
    if (errno == ENOTSUP || errno == EOPNOTSUPP) return false;
    throw std::runtime_error("read ACL of " + dir + ": " + std::strerror(errno));
  }
  acl_entry_t entry;
  acl_permset_t perms;
  if (acl_create_entry(&holder.acl, &entry) != 0 || acl_set_tag_type(entry, ACL_USER) != 0 ||
      acl_set_qualifier(entry, &account.uid) != 0 || acl_get_permset(entry, &perms) != 0 ||
      acl_clear_perms(perms) != 0 || acl_add_perm(perms, ACL_EXECUTE) != 0 ||
      acl_calc_mask(&holder.acl) != 0) {
    throw std::runtime_error("build ACL for " + dir + ": " + std::strerror(errno));
  }
  if (acl_set_file(dir.c_str(), ACL_TYPE_ACCESS, holder.acl) != 0) {
    if (errno == ENOTSUP || errno == EOPNOTSUPP) return false;
    throw std::runtime_error("set ACL on " + dir + ": " + std::strerror(errno));
  }
  return true;
}

}  // namespace

std::vector<std::string> grant_ancestor_search(const site_plan& plan) {
  std::vector<std::string> changed;
  if (::geteuid() != 0) return changed;
  std::set<std::string> users;
  for (const auto& pool : plan.pools)
    if (pool.run_as_user && *pool.run_as_user != "root") users.insert(*pool.run_as_user);
  // The front's workers read nothing from the task, but nginx pools and app
  // processes do; the default front worker user needs no access.
  const fs::path alloc_dir = fs::path(plan.task_dir).parent_path();
  for (const auto& user : users) {
    auto account = find_account(user);
    if (!account) throw std::runtime_error("unknown Unix user " + user);
    for (fs::path dir = alloc_dir.parent_path(); !dir.empty(); dir = dir.parent_path()) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) break;
      if (!user_may(dir.string(), *account, X_OK)) {
        if (add_search_entry(dir.string(), *account)) {
          changed.push_back(dir.string() + " (ACL u:" + user + ":--x)");
        } else if (::chmod(dir.c_str(), (st.st_mode & 07777) | S_IXOTH) == 0) {
          changed.push_back(dir.string() + " (mode o+x, no ACL support)");
        } else {
          throw std::runtime_error("cannot let " + user + " pass through " + dir.string() + ": " +
                                   std::strerror(errno));
        }
      }
      if (dir == dir.parent_path()) break;
    }
  }
  return changed;
}

}  // namespace nomad_iis::iis
