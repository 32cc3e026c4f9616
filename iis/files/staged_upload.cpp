#include "iis/files/staged_upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "iis/files/file_error.hpp"

namespace nomad_iis::files {
namespace {

/// Opens the folder the target is (or will be) in, creating missing ones.
unique_fd target_folder(const task_root& root, const held_entry& dest) {
  return dest.missing.empty() ? unique_fd(::fcntl(dest.dir.get(), F_DUPFD_CLOEXEC, 0))
                              : open_parent(root, dest);
}

/// The folder now at `name` of `dir_fd`, to merge the upload with: none when
/// nothing is there, conflict when something other than a folder is.
unique_fd merge_source(const task_root& root, int dir_fd, const std::string& name) {
  unique_fd old(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!old) {
    if (errno == ENOENT) return old;
    throw conflict("type_changed", "the target changed type during the upload");
  }
  struct stat st {};
  if (::fstat(old.get(), &st) != 0)
    throw internal_error("filesystem_error", std::string("fstat: ") + std::strerror(errno));
  root.check(st);
  return old;
}

}  // namespace

void check_upload_target(const resolved_path& target, bool is_zip) {
  if (target.is_root() || !target.target().dir)  // also through a link
    throw bad_request("bad_path", "the task directory itself cannot be replaced");
  if (is_zip && target.exists() && !target.is_dir())
    throw conflict("not_a_directory", "a zip is extracted into a folder, but the target is a file");
  if (!is_zip && target.exists() && target.is_dir())
    throw conflict("is_a_directory",
                   "the target is a folder; send a zip (Content-Type: application/zip)");
}

ownership upload_ownership(const held_entry& dest, bool is_zip) {
  const mode_t fallback = is_zip ? 0755 : 0644;
  return dest.exists() ? ownership_of(dest) : ownership_in(dest.dir.get(), fallback);
}

void write_staged(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    auto w = ::write(fd, data, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw file_error(file_errc::no_space, "write_failed",
                       std::string("staging the upload failed: ") + std::strerror(errno));
    }
    data += w;
    size -= static_cast<std::size_t>(w);
  }
}

void place_upload(const task_root& root, const held_entry& dest, const staging_dir& staging,
                  bool is_zip, bool clean) {
  const unique_fd folder = target_folder(root, dest);
  if (is_zip && !clean) {
    if (auto old = merge_source(root, folder.get(), dest.name)) {
      const unique_fd staged_fd(
          ::openat(staging.fd(), staged_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!staged_fd)
        throw internal_error("filesystem_error", std::string("staging: ") + std::strerror(errno));
      merge_links(old.get(), staged_fd.get());
    }
  }
  swap_into_place(staging.fd(), staged_name, folder.get(), dest.name, is_zip, "old");
}

}  // namespace nomad_iis::files
