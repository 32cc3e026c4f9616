#pragma once
// DELETE of a file or folder, or emptying a folder ("dir/*", "dir/*.*"):
// the entry is moved by descriptor into a staging folder beside it,
// atomically, while the caller holds the task, then removed there through
// descriptors once the task is free again.

#include <string>

#include "iis/files/swap.hpp"
#include "iis/files/task_tree.hpp"

namespace nomad_iis::files {

/// Whether a decoded path asks to empty a folder; strips the "/*" or "/*.*".
bool strip_clean_suffix(std::string& path);

/// One removal in two steps: everything that needs no hold on the task is
/// done by the constructor, the atomic move by apply(); what was moved away
/// goes with the object.
///
///   files::pending_delete removal(target, empty_only);  // checks, stages
///   { hold the task; removal.apply(); release it }
///   // removal's destructor removes the old entry
class pending_delete {
 public:
  /// Checks that `target` can be removed (a symlink itself, never what it
  /// leads to) or, when `empty_only`, emptied, and prepares the staging
  /// folder beside it (with an empty folder of the same owner, mode and
  /// ACLs to swap in). Throws file_error. `target` must outlive the object.
  pending_delete(const resolved_path& target, bool empty_only);
  pending_delete(resolved_path&&, bool) = delete;  ///< it holds the target's descriptors

  /// Moves the entry into the staging folder (or swaps the empty folder in).
  /// Throws file_error: not_found when it went meanwhile.
  void apply();

 private:
  const resolved_path& target_;
  bool empty_only_;
  const held_entry& victim_;
  staging_dir staging_;
};

}  // namespace nomad_iis::files
