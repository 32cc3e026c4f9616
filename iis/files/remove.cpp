#include "iis/files/remove.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "iis/files/file_error.hpp"

namespace nomad_iis::files {
namespace {

/// The entry a removal moves away, after checking that it may: emptying
/// swaps out the folder (a link's target), deleting the entry itself.
const held_entry& victim_of(const resolved_path& target, bool empty_only) {
  if (target.is_root())
    throw bad_request("bad_path", "the task directory itself cannot be deleted or emptied");
  if (!target.exists()) throw not_found("\"" + target.relative + "\" does not exist");
  if (empty_only && !target.is_dir())
    throw conflict("not_a_directory", "\"" + target.relative + "\" is not a folder");
  if (empty_only && !target.target().dir)  // a link to the task dir
    throw bad_request("bad_path", "the task directory itself cannot be deleted or emptied");
  return empty_only ? target.target() : target.entry;
}

}  // namespace

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

pending_delete::pending_delete(const resolved_path& target, bool empty_only)
    : target_(target),
      empty_only_(empty_only),
      victim_(victim_of(target, empty_only)),
      staging_(victim_.dir.get()) {
  // Emptying swaps in an empty folder (same owner and mode); deleting moves
  // the entry itself (a symlink, not its target) into the staging folder.
  if (empty_only_) {
    staging_.make_dir("empty", 0700);
    apply_ownership(staging_.fd(), "empty", ownership_of(victim_));
  }
}

void pending_delete::apply() {
  if (empty_only_) {
    swap_into_place(staging_.fd(), "empty", victim_.dir.get(), victim_.name, true, "old");
  } else if (::renameat(victim_.dir.get(), victim_.name.c_str(), staging_.fd(), "old") != 0) {
    if (errno == ENOENT) throw not_found("\"" + target_.relative + "\" does not exist");
    throw internal_error("filesystem_error", std::string("delete failed: ") + std::strerror(errno));
  }
}

}  // namespace nomad_iis::files
