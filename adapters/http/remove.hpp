#pragma once
// DELETE of a file or folder, or emptying a folder ("dir/*", "dir/*.*"):
// the entry is moved by descriptor into a staging folder beside it,
// atomically and under a change lease, then removed there through
// descriptors without holding the task.

#include <string>

#include "adapters/http/task_client.hpp"
#include "adapters/http/task_tree.hpp"

namespace nomad_iis::http {

/// Whether a decoded path asks to empty a folder; strips the "/*" or "/*.*".
bool strip_clean_suffix(std::string& path);

/// Removes `target` (a symlink itself, never what it leads to), or empties
/// the folder it names when `empty_only`. Throws http_error.
void apply_delete(task_client& client, const task_ref& task, const resolved_path& target,
                  const std::string& lease_path, bool empty_only);

}  // namespace nomad_iis::http
