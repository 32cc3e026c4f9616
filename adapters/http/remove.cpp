#include "adapters/http/remove.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "adapters/http/change_lease.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/swap.hpp"

namespace nomad_iis::http {

bool strip_clean_suffix(std::string& path) {
  for (const char* suffix : {"/*.*", "/*"}) {
    std::string s = suffix;
    if (path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0) {
      path.resize(path.size() - s.size());
      return true;
    }
  }
  if (path == "*" || path == "*.*") {
    path.clear();
    return true;
  }
  return false;
}

void apply_delete(task_client& client, const task_ref& task, const resolved_path& target,
                  const std::string& lease_path, bool empty_only) {
  if (target.is_root())
    throw bad_request("bad_path", "the task directory itself cannot be deleted or emptied");
  if (!target.exists()) throw not_found("\"" + target.relative + "\" does not exist");
  if (empty_only && !target.is_dir())
    throw conflict("not_a_directory", "\"" + target.relative + "\" is not a folder");
  if (empty_only && !target.target().dir)  // a link to the task dir
    throw bad_request("bad_path", "the task directory itself cannot be deleted or emptied");

  // Emptying swaps in an empty folder (same owner and mode); deleting moves
  // the entry itself (a symlink, not its target) into the staging folder.
  const held_entry& victim = empty_only ? target.target() : target.entry;
  staging_dir staging(victim.dir.get());
  if (empty_only) {
    staging.make_dir("empty", 0700);
    apply_ownership(staging.fd(), "empty", ownership_of(victim));
  }
  change_lease lease(client, task, lease_path, false);
  if (empty_only) {
    swap_into_place(staging.fd(), "empty", victim.dir.get(), victim.name, true, "old");
  } else if (::renameat(victim.dir.get(), victim.name.c_str(), staging.fd(), "old") != 0) {
    if (errno == ENOENT) throw not_found("\"" + target.relative + "\" does not exist");
    throw http_error(500, "filesystem_error",
                     std::string("delete failed: ") + std::strerror(errno));
  }
  lease.finish();
}

}  // namespace nomad_iis::http
