#pragma once
// The filesystem steps of an upload (PUT/PATCH of a file or a zip) around
// receiving its body: the checks on the target, the owner and mode the new
// content takes, the writes into the staging folder, and the swap into
// place (merged with the old folder for a zip without ?clean=true). The
// body itself and the hold on the task are the caller's.

#include <cstddef>
#include <string>

#include "iis/files/swap.hpp"
#include "iis/files/task_tree.hpp"

namespace nomad_iis::files {

/// The name of the staged entry in the upload's staging folder.
inline constexpr const char* staged_name = "new";

/// Refuses a target an upload cannot replace: the task dir itself (also
/// through a link), a file for a zip, a folder for a single file. Throws
/// file_error (bad_request, conflict).
void check_upload_target(const resolved_path& target, bool is_zip);

/// What the upload's content takes over: the owner, mode and ACLs of what
/// it replaces, else its folder's owner with 0755 (zip) or 0644 (file).
ownership upload_ownership(const held_entry& dest, bool is_zip);

/// Writes all of `data` to the staged file `fd`; a failed write (a full
/// disk) is no_space "write_failed".
void write_staged(int fd, const char* data, std::size_t size);

/// Puts the staged entry (`staged_name` in `staging`) at `dest`, creating
/// its missing folders without following links. A zip is merged with the
/// folder there unless `clean` (hard links of the old tree, staged files
/// win); then the two are exchanged, so `staging` holds the old entry. Runs
/// while the caller holds the task. Throws file_error (conflict when the
/// target changed type meanwhile, forbidden for a guarded folder).
void place_upload(const task_root& root, const held_entry& dest, const staging_dir& staging,
                  bool is_zip, bool clean);

}  // namespace nomad_iis::files
