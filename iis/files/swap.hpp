#pragma once
// Filesystem steps of an atomic file change, all through descriptors: a
// private staging folder beside the target (same filesystem, so renames are
// atomic), the exchange of two entries, a merged tree built from hard links
// of the old one, and owners and modes set on descriptors. Poco-free.

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "common/unique_fd.hpp"
#include "iis/files/task_tree.hpp"

namespace nomad_iis::files {

/// Whether `id` is the staging folder of a change in progress.
bool is_live_staging(const file_id& id);

/// A private staging folder (".nomad-iis-staging-XXXXXX", owned by the
/// plugin, mode 0700) created in a folder given by descriptor. Everything in
/// it is reached through its descriptor, and it is removed through it when
/// the object goes away, also when the app renamed it meanwhile.
class staging_dir {
 public:
  /// Creates the folder in `parent_fd` (any directory descriptor, O_PATH too).
  explicit staging_dir(int parent_fd);
  ~staging_dir();
  staging_dir(const staging_dir&) = delete;
  staging_dir& operator=(const staging_dir&) = delete;

  int fd() const { return fd_.get(); }
  /// Creates the file `name` in it (O_EXCL, never through a link), open for
  /// reading and writing.
  unique_fd create_file(const std::string& name, mode_t mode) const;
  /// Creates the folder `name` in it and opens it.
  unique_fd make_dir(const std::string& name, mode_t mode) const;

 private:
  unique_fd parent_;
  unique_fd fd_;
  std::string name_;
  file_id id_;
};

/// Owner, mode and POSIX ACLs a new entry takes over from what it replaces
/// (or owner alone from its parent). The ACLs carry the pools' users' rights
/// (iis/folder_access): a replaced folder that lost them would shut its pool
/// out, and its default ACL lets what is created in it inherit them.
struct ownership {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;
  std::string acl_access;   ///< raw system.posix_acl_access, "" when none
  std::string acl_default;  ///< raw system.posix_acl_default (folders), "" when none
};

/// The owner, mode and ACLs of the existing `entry` (read through a
/// descriptor of exactly the object it holds).
ownership ownership_of(const held_entry& entry);

/// Gives what `fd` is open on `own`'s ACLs (those it has, as root).
void apply_acls(int fd, const ownership& own);

/// The owner of the folder `dir_fd`, with `mode`: what a new entry there gets.
ownership ownership_in(int dir_fd, mode_t mode);

/// Gives the entry `name` of `dir_fd` and everything below it `own`'s owner
/// (only as root), and the entry itself `own.mode` and ACLs, through
/// descriptors and never through a symlink.
void apply_ownership(int dir_fd, const std::string& name, const ownership& own);

/// Puts the entry `staged` of `staging_fd` at `name` of `dir_fd`. What is
/// there is exchanged atomically (renameat2 RENAME_EXCHANGE), so `staged`
/// then holds the old entry; where the filesystem cannot exchange, the old
/// entry is first moved to `aside` in staging. The old entry must be a
/// folder when `expect_dir`, else a non-folder, and never a symlink: conflict
/// type_changed otherwise.
void swap_into_place(int staging_fd, const std::string& staged, int dir_fd, const std::string& name,
                     bool expect_dir, const std::string& aside);

/// Adds to the folder `staged_fd` a hard link (symlinks: a copy of the link)
/// of every entry of the folder `old_fd` it lacks, recursively: the merged
/// tree of a non-clean upload, staged files taking precedence.
void merge_links(int old_fd, int staged_fd);

}  // namespace nomad_iis::files
