#pragma once
// The task directory through descriptors. A Management API path is resolved
// once, one component at a time, below a descriptor of the task directory;
// what comes out are descriptors (the folder holding the entry, its name,
// the entry itself) that every later step works on. Nothing is looked up
// again by a path string, so an app that swaps a folder and a symlink
// meanwhile cannot redirect an operation outside the task. The task's
// secrets/ and private/ folders are known by identity (st_dev, st_ino), so
// a link to them, a renamed one or a path through them is still refused.
// Poco-free: the task actor will drive it (issue 13).

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/staging_name.hpp"
#include "common/unique_fd.hpp"

namespace nomad_iis::files {

/// What a filesystem object is, whatever its name.
struct file_id {
  dev_t dev = 0;
  ino_t ino = 0;
  static file_id of(const struct stat& st) { return {st.st_dev, st.st_ino}; }
  bool operator==(const file_id& o) const { return dev == o.dev && ino == o.ino; }
  bool operator!=(const file_id& o) const { return !(*this == o); }
};

using nomad_iis::is_staging_name;
using nomad_iis::staging_prefix;

/// A task directory opened for one request, with the folders the API never
/// enters.
class task_root {
 public:
  /// Opens `path` (conflict task_dir_missing when it is gone) and learns the
  /// identity of `secrets_name` (unless `allow_secrets`) and of private/,
  /// also those seen by earlier requests (the app may have renamed them).
  task_root(const std::string& path, const std::string& secrets_name, bool allow_secrets);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  /// Whether `path` (absolute, as a symlink may name it) is the task dir
  /// or below it; strips it then, leaving the relative rest in `rest`.
  bool contains(std::string_view path, std::string& rest) const;
  /// The message refusing a guarded folder `st` is, or nullopt.
  std::optional<std::string> guarded(const struct stat& st) const;
  /// The message refusing the name of a top-level entry, or nullopt.
  std::optional<std::string> guarded_name(std::string_view name) const;
  /// Throws forbidden when `st` is a guarded folder.
  void check(const struct stat& st) const;

 private:
  struct guard {
    file_id id;
    std::string message;
  };
  unique_fd fd_;
  std::string path_;
  std::string canonical_;
  std::string secrets_name_;
  bool allow_secrets_;
  std::vector<guard> guards_;
};

/// One entry of the task tree, held by descriptors.
struct held_entry {
  /// O_PATH descriptor of the folder holding the entry (when the entry is
  /// missing: of its deepest existing ancestor); empty for the task dir.
  unique_fd dir;
  /// Folders between `dir` and the entry that do not exist yet.
  std::vector<std::string> missing;
  /// Its name in the folder ("" for the task dir itself).
  std::string name;
  /// O_PATH descriptor of the entry itself, when it exists.
  unique_fd fd;
  struct stat st {};  ///< fstat of `fd`

  bool exists() const { return static_cast<bool>(fd); }
  bool is_dir() const { return exists() && S_ISDIR(st.st_mode); }
  bool is_symlink() const { return exists() && S_ISLNK(st.st_mode); }
};

/// A resolved API path.
struct resolved_path {
  std::string relative;  ///< normalised, "" for the task dir itself
  /// What the path names; a final symlink is not followed (what DELETE removes).
  held_entry entry;
  /// What a final symlink leads to (reads and writes use it), else nullopt.
  std::optional<held_entry> link_target;

  const held_entry& target() const { return link_target ? *link_target : entry; }
  bool exists() const { return target().exists(); }
  bool is_dir() const { return target().is_dir(); }
  bool is_symlink() const { return entry.is_symlink(); }
  bool is_root() const { return relative.empty(); }
};

/// Refuses characters no API path may hold (NUL, control characters,
/// backslashes) and encodings left after one decoding pass: they can only
/// be an attempt at double-encoded traversal. Throws bad_request.
void check_path_text(std::string_view s);

/// The components of a decoded relative path ("." and empty ones dropped).
/// Throws bad_request for absolute paths, "..", staging folders and
/// over-long components.
std::vector<std::string> split_relative(std::string_view path);

/// Resolves `relative` (decoded) below `root`, following symlinks while
/// they stay inside the task dir. Throws bad_request for traversal,
/// symlinks that lead outside or nowhere and a file used as a folder,
/// forbidden for a guarded folder on the way or as the result.
resolved_path resolve_path(const task_root& root, std::string_view relative);

/// Opens (creating as needed, mode 0755, owned like `entry.dir`) the missing
/// folders of `entry`, never through a symlink, and returns the descriptor
/// of the folder that holds the entry. Throws conflict when something else
/// is in the way, forbidden for a guarded folder.
unique_fd open_parent(const task_root& root, const held_entry& entry);

/// Opens an existing regular file of the tree for reading: through its
/// folder's descriptor, O_NOFOLLOW|O_NONBLOCK, and only if it is still the
/// object resolved. Throws not_found, bad_request or conflict.
unique_fd open_regular_file(const held_entry& entry, const std::string& shown);

/// A readable descriptor of an existing folder of the tree (the object
/// resolved, reopened through its own descriptor).
unique_fd open_folder(const held_entry& entry);

/// Visits what a folder download holds, parents first, through descriptors:
/// folders (`fd` -1) and regular files (`fd` open for reading, the object
/// that was listed, opened O_NOFOLLOW|O_NONBLOCK). Symlinks, other types,
/// staging folders and the folders `root` guards are left out (`root` may
/// be null: nothing guarded). Throws std::runtime_error for a tree nested
/// deeper than the walk's limit.
void walk_folder_files(
    int dir_fd, const task_root* root,
    const std::function<void(std::string_view relative, int fd, const struct stat& st)>& visit);

}  // namespace nomad_iis::files
