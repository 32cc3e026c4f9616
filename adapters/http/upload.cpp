#include "adapters/http/upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "adapters/http/change_lease.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/swap.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::size_t io_buffer = 1 << 20;

/// Streams the body into `path`, enforcing the size limit and detecting a
/// body that ended before its Content-Length (a cut connection).
std::uint64_t receive(std::istream& body, const std::string& path, const upload_request& req) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw http_error(500, "filesystem_error",
                     std::string("staging failed: ") + std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } c{fd};
  std::vector<char> buf(io_buffer);
  std::uint64_t total = 0;
  while (body) {
    body.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<std::size_t>(body.gcount());
    if (n == 0) break;
    total += n;
    if (total > req.max_bytes)
      throw http_error(413, "upload_too_large",
                       "the upload is larger than " + std::to_string(req.max_bytes) + " bytes");
    const char* p = buf.data();
    while (n > 0) {
      auto w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw http_error(507, "write_failed",
                         std::string("staging the upload failed: ") + std::strerror(errno));
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  if (body.bad()) throw bad_request("upload_incomplete", "the connection failed during the upload");
  if (req.content_length && total != *req.content_length)
    throw bad_request("upload_incomplete", "the upload ended after " + std::to_string(total) +
                                               " of " + std::to_string(*req.content_length) +
                                               " bytes");
  return total;
}

}  // namespace

upload_result apply_upload(task_client& client, const task_ref& task, const resolved_path& target,
                           const std::string& lease_path, std::istream& body,
                           const upload_request& req) {
  if (target.is_root())
    throw bad_request("bad_path", "the task directory itself cannot be replaced");
  if (req.is_zip && target.exists && !target.is_dir)
    throw conflict("not_a_directory", "a zip is extracted into a folder, but the target is a file");
  if (!req.is_zip && target.exists && target.is_dir)
    throw conflict("is_a_directory",
                   "the target is a folder; send a zip (Content-Type: application/zip)");

  const std::string& dest = target.target;
  staging_dir staging(dest);
  upload_result result;
  const std::string staged = staging / "new";

  // 1. Receive and prepare everything without holding the task.
  if (req.is_zip) {
    result.bytes_received = receive(body, staging / "upload.zip", req);
    if (::mkdir(staged.c_str(), 0755) != 0)
      throw http_error(500, "filesystem_error",
                       std::string("staging failed: ") + std::strerror(errno));
    auto stats = extract_zip(staging / "upload.zip", staged, req.limits);
    ::unlink((staging / "upload.zip").c_str());
    result.files = stats.files;
    apply_ownership(staged, ownership_for(dest, 0755));
  } else {
    result.bytes_received = receive(body, staged, req);
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
  return result;  // ~staging removes the old tree
}

}  // namespace nomad_iis::http
