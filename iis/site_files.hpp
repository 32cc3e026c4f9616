#pragma once
// The file system side of starting a site: its data_dir, the placeholder
// copied into empty application folders, and the pools' users' access to the
// task's folders. Everything below the allocation directory is writable by
// the task's app, also between two of our calls: it is only ever reached
// through descriptors (common/beneath.hpp), never followed through a symlink.

#include <optional>
#include <string>
#include <vector>

#include "iis/model.hpp"
#include "iis/process.hpp"

namespace nomad_iis::iis {

/// Creates data_dir with run/, tmp/, logs/ and certs/, traversable (0711) so
/// unprivileged nginx workers reach the sockets, and the task's tmp dir when
/// it is missing.
void create_site_dirs(const site_plan& plan);

/// Copies plan.placeholder_app_path into application folders (below the
/// allocation) that are missing or empty; returns the folders it filled.
std::vector<std::string> copy_placeholder(const site_plan& plan);

/// When root: grants each pool's user, by POSIX ACL entries (access and
/// default), read access to its applications' folders and read/write access
/// to the task's local/ and tmp/, plus search access on the folders on the
/// way; keeps secrets/ and private/ at 0700. Owners and modes of the task's
/// folders are never changed (but for that 0700), host folders
/// (allowed_host_paths) are left as they are, symlinks are never followed.
/// Returns notes for an event (what it left alone and why). A no-op when not
/// root or with directory_security off.
std::vector<std::string> apply_directory_security(const site_plan& plan);

/// The file a web.config stdoutLogFile names (absolute, inside `alloc_dir`),
/// opened for appending: created with its folders (never through a symlink)
/// and given to `owner`, or an existing regular file of `owner` with one
/// link. Empty when it cannot be had that way (the caller logs to the task's
/// stdout instead).
unique_fd open_app_log(const std::string& alloc_dir, const std::string& path,
                       const std::optional<unix_account>& owner);

/// mkdir -p with `mode` on the last folder (nginx creates only the last
/// component of its temp paths). For the driver's own data_dir only.
void make_dir(const std::string& path, unsigned mode);

/// rm -rf that never follows symlinks (through descriptors); errors are ignored.
void remove_tree(const std::string& path);

/// A read end of the FIFO at `path` (empty when it is no FIFO). Held while
/// the front (re)loads: nginx reopens /dev/stdout, the task's stdout FIFO, and
/// that open blocks the master for as long as no reader (logmon) has the FIFO
/// open. We never read from it, so logmon still gets every line.
unique_fd hold_fifo_reader(const std::string& path);

/// Writes `content` to `path` through a temporary file and rename.
void write_file_atomic(const std::string& path, const std::string& content, unsigned mode = 0600);

}  // namespace nomad_iis::iis
