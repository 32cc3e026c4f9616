#pragma once
// Filesystem steps of an atomic file change: a staging dir beside the target
// (same filesystem, so renames are atomic), the exchange of two trees, and a
// merged tree built from hard links of the old one.

#include <sys/types.h>

#include <string>

namespace nomad_iis::http {

/// A private staging directory on the target's filesystem, removed with all
/// it holds when the object goes away.
class staging_dir {
 public:
  /// Creates ".nomad-iis-staging-XXXXXX" (mode 0700) in the nearest existing
  /// ancestor directory of `target`.
  explicit staging_dir(const std::string& target);
  ~staging_dir();
  staging_dir(const staging_dir&) = delete;
  staging_dir& operator=(const staging_dir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Owner and mode a new entry takes over from what it replaces (or its parent).
struct ownership {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;
};

/// The owner of `path`, or of its nearest existing ancestor; `mode` is
/// `path`'s own when it exists, else `fallback_mode`.
ownership ownership_for(const std::string& path, mode_t fallback_mode);

/// Gives every entry below and including `root` the owner (only as root);
/// `root` itself also gets `own.mode`.
void apply_ownership(const std::string& root, const ownership& own);

/// Creates the missing parent directories of `path` (mode 0755, owner of the
/// nearest existing ancestor).
void make_parents(const std::string& path);

/// Puts `staged` at `target`. When `target` exists it is swapped atomically
/// (renameat2 RENAME_EXCHANGE) so `staged` then holds the old tree; where
/// the filesystem cannot exchange, `target` is first renamed to `aside`.
void swap_into_place(const std::string& staged, const std::string& target,
                     const std::string& aside);

/// Adds to `staged` a hard link (symlinks: a copy of the link) of every entry
/// of `old_dir` that `staged` lacks, recursively: the merged tree of a
/// non-clean upload, with staged files taking precedence.
void merge_links(const std::string& old_dir, const std::string& staged);

/// Removes a tree without following symlinks; errors are ignored.
void remove_tree(const std::string& path) noexcept;

}  // namespace nomad_iis::http
