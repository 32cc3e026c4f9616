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

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

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

int create(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw http_error(500, "filesystem_error",
                     std::string("staging failed: ") + std::strerror(errno));
  return fd;
}

/// Receives a zip while a second thread extracts it from the same file as
/// it grows; the archive is complete (and checked) when both are done.
std::pair<std::uint64_t, zip_stats> receive_and_extract(const body_reader& body,
                                                        const staging_dir& staging,
                                                        const std::string& staged,
                                                        const upload_request& req) {
  fd_closer fd{create(staging / "upload.zip")};
  if (::mkdir(staged.c_str(), 0755) != 0)
    throw http_error(500, "filesystem_error",
                     std::string("staging failed: ") + std::strerror(errno));
  growing_file progress;
  zip_stats stats;
  std::exception_ptr extract_error;
  std::thread extractor([&] {
    try {
      growing_file_buf buf(fd.fd, progress);
      std::istream in(&buf);
      stats = extract_zip_stream(in, staged, req.limits);
    } catch (...) {
      extract_error = std::current_exception();
      progress.abort();
    }
  });
  std::uint64_t total = 0;
  try {
    total = receive(body, fd.fd, req, &progress);
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

}  // namespace

upload_result apply_upload(task_client& client, const task_ref& task, const resolved_path& target,
                           const std::string& lease_path, const body_reader& body,
                           const upload_request& req) {
  if (target.is_root())
    throw bad_request("bad_path", "the task directory itself cannot be replaced");
  if (req.is_zip && target.exists && !target.is_dir)
    throw conflict("not_a_directory", "a zip is extracted into a folder, but the target is a file");
  if (!req.is_zip && target.exists && target.is_dir)
    throw conflict("is_a_directory",
                   "the target is a folder; send a zip (Content-Type: application/zip)");

  const std::string& dest = target.target;
  auto staging_ptr = std::make_shared<staging_dir>(dest);
  const staging_dir& staging = *staging_ptr;
  upload_result result;
  const std::string staged = staging / "new";

  // 1. Receive and prepare everything without holding the task.
  if (req.is_zip) {
    auto [bytes, stats] = receive_and_extract(body, staging, staged, req);
    ::unlink((staging / "upload.zip").c_str());
    result.bytes_received = bytes;
    result.files = stats.files;
    apply_ownership(staged, ownership_for(dest, 0755));
  } else {
    fd_closer fd{create(staged)};
    result.bytes_received = receive(body, fd.fd, req, nullptr);
    result.files = 1;
    apply_ownership(staged, ownership_for(dest, 0644));
  }

  // 2. Swap while the task is held (and, for PUT, its serving pools stopped).
  change_lease lease(client, task, lease_path, req.stop_pools);
  result.stopped_pools = lease.stopped_pools();
  struct stat st {};
  const bool exists_now = ::lstat(dest.c_str(), &st) == 0;
  if (req.is_zip && exists_now && S_ISDIR(st.st_mode) && !req.clean) merge_links(dest, staged);
  if (exists_now && (req.is_zip != S_ISDIR(st.st_mode)))
    throw conflict("type_changed", "the target changed type during the upload");
  swap_into_place(staged, dest, staging / "old");
  lease.finish();
  result.leftovers = std::move(staging_ptr);
  return result;
}

}  // namespace nomad_iis::http
