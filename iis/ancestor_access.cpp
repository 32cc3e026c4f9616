#include "iis/ancestor_access.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "common/beneath.hpp"
#include "iis/folder_access.hpp"
#include "iis/process.hpp"
#include "iis/user_access.hpp"

namespace nomad_iis::iis {

std::vector<std::string> grant_ancestor_search(const site_plan& plan) {
  namespace fs = std::filesystem;
  std::vector<std::string> changed;
  if (::geteuid() != 0) return changed;
  std::set<std::string> users;
  for (const auto& pool : plan.pools)
    if (pool.run_as_user && *pool.run_as_user != "root") users.insert(*pool.run_as_user);
  // The front's workers read nothing from the task, but nginx pools and app
  // processes do; the default front worker user needs no access. These
  // folders are above the alloc dir (Nomad's, root's): each is opened
  // without following a final link and changed through its descriptor.
  const fs::path alloc_dir = fs::path(plan.task_dir).parent_path();
  for (const auto& user : users) {
    auto account = find_account(user);
    if (!account) throw std::runtime_error("unknown Unix user " + user);
    for (fs::path dir = alloc_dir.parent_path(); !dir.empty(); dir = dir.parent_path()) {
      const unique_fd fd = open_directory(dir.string());
      if (!fd) break;
      if (!user_may(fd.get(), *account, X_OK)) {
        struct stat st {};
        if (grant_user_access(fd.get(), account->uid, acl_execute, false)) {
          changed.push_back(dir.string() + " (ACL u:" + user + ":--x)");
        } else if (::fstat(fd.get(), &st) == 0 &&
                   ::fchmod(fd.get(), (st.st_mode & 07777) | S_IXOTH) == 0) {
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
