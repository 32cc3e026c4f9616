#include "adapters/http/upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/http/change_lease.hpp"
#include "adapters/http/growing_file.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/swap.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::size_t io_buffer = 1 << 20;

/// Streams the body into `fd`, enforcing the size limit and detecting a
/// body that ended before its Content-Length (a cut connection). Each block
/// written is announced to `progress` (the extractor following it), which
/// can also stop the transfer early.
std::uint64_t receive(const body_reader& body, int fd, const upload_request& req,
                      growing_file* progress) {
  std::vector<char> buf(io_buffer);
  std::uint64_t total = 0;
  while (true) {
    if (progress && progress->aborted()) return total;  // the extractor refused the archive
    auto n = body(buf.data(), buf.size());
    if (n == 0) break;
    total += n;
    if (total > req.max_bytes)
      throw http_error(413, "upload_too_large",
                       "the upload is larger than " + std::to_string(req.max_bytes) + " bytes");
    const char* p = buf.data();
    std::size_t left = n;
    while (left > 0) {
      auto w = ::write(fd, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw http_error(507, "write_failed",
                         std::string("staging the upload failed: ") + std::strerror(errno));
      }
      p += w;
      left -= static_cast<std::size_t>(w);
    }
    if (progress) progress->add(n);
  }
  if (req.content_length && total != *req.content_length)
    throw bad_request("upload_incomplete", "the upload ended after " + std::to_string(total) +
                                               " of " + std::to_string(*req.content_length) +
                                               " bytes");
  return total;
}

/// Receives a zip while a second thread extracts it from the same file as
/// it grows; the archive is complete (and checked) when both are done.
std::pair<std::uint64_t, zip_stats> receive_and_extract(const body_reader& body,
                                                        const staging_dir& staging,
                                                        const std::string& staged,
                                                        const upload_request& req,
                                                        const ownership& own) {
  const unique_fd fd = staging.create_file("upload.zip", 0600);
  const unique_fd dest = staging.make_dir(staged, 0755);
  apply_acls(dest.get(), own);  // before extraction: the entries inherit its default ACL
  growing_file progress;
  zip_stats stats;
  std::exception_ptr extract_error;
  std::thread extractor([&] {
    try {
      growing_file_buf buf(fd.get(), progress);
      std::istream in(&buf);
      stats = extract_zip_stream(in, dest.get(), req.limits);
    } catch (...) {
      extract_error = std::current_exception();
      progress.abort();
    }
  });
  std::uint64_t total = 0;
  try {
    total = receive(body, fd.get(), req, &progress);
  } catch (...) {
    progress.finish();
    extractor.join();
    throw;
  }
  progress.finish();
  extractor.join();
  if (extract_error) std::rethrow_exception(extract_error);
  return {total, stats};
}

/// Opens the folder the target is (or will be) in, creating missing ones.
unique_fd target_folder(const task_root& root, const held_entry& dest) {
  return dest.missing.empty() ? unique_fd(::fcntl(dest.dir.get(), F_DUPFD_CLOEXEC, 0))
                              : open_parent(root, dest);
}

/// The folder now at `name` of `dir_fd`, to merge the upload with: none when
/// nothing is there, 409 when something other than a folder is.
unique_fd merge_source(const task_root& root, int dir_fd, const std::string& name) {
  unique_fd old(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!old) {
    if (errno == ENOENT) return old;
    throw conflict("type_changed", "the target changed type during the upload");
  }
  struct stat st {};
  if (::fstat(old.get(), &st) != 0)
    throw http_error(500, "filesystem_error", std::string("fstat: ") + std::strerror(errno));
  root.check(st);
  return old;
}

}  // namespace

upload_result apply_upload(task_client& client, const task_ref& task, const task_root& root,
                           const resolved_path& target, const std::string& lease_path,
                           const body_reader& body, const upload_request& req) {
  if (target.is_root() || !target.target().dir)  // also through a link
    throw bad_request("bad_path", "the task directory itself cannot be replaced");
  if (req.is_zip && target.exists() && !target.is_dir())
    throw conflict("not_a_directory", "a zip is extracted into a folder, but the target is a file");
  if (!req.is_zip && target.exists() && target.is_dir())
    throw conflict("is_a_directory",
                   "the target is a folder; send a zip (Content-Type: application/zip)");

  const held_entry& dest = target.target();
  auto staging_ptr = std::make_shared<staging_dir>(dest.dir.get());
  const staging_dir& staging = *staging_ptr;
  upload_result result;
  const std::string staged = "new";
  const mode_t fallback = req.is_zip ? 0755 : 0644;
  const ownership own = dest.exists() ? ownership_of(dest) : ownership_in(dest.dir.get(), fallback);

  // 1. Receive and prepare everything without holding the task.
  if (req.is_zip) {
    auto [bytes, stats] = receive_and_extract(body, staging, staged, req, own);
    ::unlinkat(staging.fd(), "upload.zip", 0);
    result.bytes_received = bytes;
    result.files = stats.files;
  } else {
    const unique_fd fd = staging.create_file(staged, 0600);
    result.bytes_received = receive(body, fd.get(), req, nullptr);
    result.files = 1;
  }
  apply_ownership(staging.fd(), staged, own);

  // 2. Swap while the task is held (and, for PUT, its serving pools stopped).
  change_lease lease(client, task, lease_path, req.stop_pools);
  result.stopped_pools = lease.stopped_pools();
  const unique_fd folder = target_folder(root, dest);
  if (req.is_zip && !req.clean) {
    if (auto old = merge_source(root, folder.get(), dest.name)) {
      const unique_fd staged_fd(
          ::openat(staging.fd(), staged.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!staged_fd)
        throw http_error(500, "filesystem_error", std::string("staging: ") + std::strerror(errno));
      merge_links(old.get(), staged_fd.get());
    }
  }
  swap_into_place(staging.fd(), staged, folder.get(), dest.name, req.is_zip, "old");
  lease.finish();
  result.leftovers = std::move(staging_ptr);
  return result;
}

}  // namespace nomad_iis::http
