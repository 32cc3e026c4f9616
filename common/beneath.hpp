#pragma once
// File operations below a directory descriptor. Everything under an
// allocation directory is writable by the task's app, also between two of
// our syscalls, so root never re-resolves a path string there: it resolves
// once from a directory descriptor (openat2 RESOLVE_BENEATH) and then works
// on descriptors (*at calls, AT_SYMLINK_NOFOLLOW, fchown/fchmod).

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace nomad_iis {

/// How symlinks on the way are treated.
enum class link_policy {
  refuse,  ///< any symlink component fails with ELOOP (RESOLVE_NO_SYMLINKS)
  inside,  ///< links are followed while every step stays below the directory
};

/// openat2(dirfd, relative, flags | O_CLOEXEC, mode) with RESOLVE_BENEATH |
/// RESOLVE_NO_MAGICLINKS (and RESOLVE_NO_SYMLINKS for link_policy::refuse):
/// the kernel refuses "..", absolute paths and links that leave `dirfd` (EXDEV)
/// atomically. "" or "." opens `dirfd` itself. Retries the EAGAIN a concurrent
/// rename causes. An empty fd with errno set on failure.
unique_fd open_beneath(int dirfd, std::string_view relative, int flags,
                       link_policy links = link_policy::refuse, mode_t mode = 0);

/// Opens a directory the plugin was given as an absolute path (a task dir,
/// its data dir), O_DIRECTORY and never through a final symlink. An empty fd
/// with errno set on failure.
unique_fd open_directory(const std::string& absolute);

/// One entry met by walk_beneath.
struct walk_entry {
  int parent_fd;              ///< the directory holding it
  const char* name;           ///< its name in parent_fd
  const struct stat& st;      ///< lstat of it (a symlink is never followed)
  std::string_view relative;  ///< path below the walk's root, "" for the root
  int depth;                  ///< 0 for the root
};

/// What the visitor wants next for a directory.
enum class walk_step { enter, skip };

/// Visits `dirfd` itself (name ".") and everything below it, parents before
/// children, through descriptors only; symlinks are visited, never followed,
/// and directories on another device are entered. Throws std::runtime_error
/// past `max_depth` levels (an app can make trees deeper than we have fds).
void walk_beneath(int dirfd, const std::function<walk_step(const walk_entry&)>& visit,
                  int max_depth = 256);

/// Removes the entry `name` of `dirfd` and, for a directory, everything
/// below it, never following a symlink. Returns false if anything stayed.
bool remove_beneath(int dirfd, const std::string& name) noexcept;

/// Creates the directories of `relative` below `dirfd` one component at a
/// time (mkdirat with `mode`, never through a symlink) and opens the last.
/// An empty fd with errno set on failure.
unique_fd make_dirs_beneath(int dirfd, std::string_view relative, mode_t mode);

}  // namespace nomad_iis
