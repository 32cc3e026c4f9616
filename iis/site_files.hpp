#pragma once
// The file system side of starting a site: its data_dir, the placeholder
// copied into empty application folders, and directory modes so the pools'
// Unix users can read their applications but never the task's secrets.

#include <string>
#include <vector>

#include "iis/model.hpp"
#include "iis/process.hpp"

namespace nomad_iis::iis {

/// Creates data_dir with run/, tmp/, logs/ and certs/, traversable (0711) so
/// unprivileged nginx workers reach the sockets, and the task's tmp dir.
void create_site_dirs(const site_plan& plan);

/// Copies plan.placeholder_app_path into application folders that are missing
/// or empty; returns the folders it filled.
std::vector<std::string> copy_placeholder(const site_plan& plan);

/// When root: lets each pool's user read (and, as in IIS, write local/ and
/// tmp/) its application folders, and keeps secrets/ and private/ at 0700.
/// Never walks into secrets/. A no-op when not root.
void apply_directory_security(const site_plan& plan);

/// mkdir -p with `mode` on the last folder (nginx creates only the last
/// component of its temp paths).
void make_dir(const std::string& path, unsigned mode);

/// rm -rf that never follows symlinks; errors are ignored.
void remove_tree(const std::string& path);

/// A read end of the FIFO at `path` (empty when it is no FIFO). Held while
/// the front (re)loads: nginx reopens /dev/stdout, the task's stdout FIFO, and
/// that open blocks the master for as long as no reader (logmon) has the FIFO
/// open. We never read from it, so logmon still gets every line.
unique_fd hold_fifo_reader(const std::string& path);

/// Writes `content` to `path` through a temporary file and rename.
void write_file_atomic(const std::string& path, const std::string& content, unsigned mode = 0600);

}  // namespace nomad_iis::iis
