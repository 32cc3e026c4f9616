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
#include "iis/files/file_error.hpp"
#include "iis/files/staged_upload.hpp"

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
      throw files::too_large("upload_too_large", "the upload is larger than " +
                                                     std::to_string(req.max_bytes) + " bytes");
    files::write_staged(fd, buf.data(), n);
    if (progress) progress->add(n);
  }
  if (req.content_length && total != *req.content_length)
    throw files::bad_request("upload_incomplete",
                             "the upload ended after " + std::to_string(total) + " of " +
                                 std::to_string(*req.content_length) + " bytes");
  return total;
}

/// Receives a zip while a second thread extracts it from the same file as
/// it grows; the archive is complete (and checked) when both are done.
std::pair<std::uint64_t, zip_stats> receive_and_extract(const body_reader& body,
                                                        const files::staging_dir& staging,
                                                        const upload_request& req,
                                                        const files::ownership& own) {
  const unique_fd fd = staging.create_file("upload.zip", 0600);
  const unique_fd dest = staging.make_dir(files::staged_name, 0755);
  files::apply_acls(dest.get(), own);  // before extraction: the entries inherit its default ACL
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

}  // namespace

upload_result apply_upload(task_client& client, const task_ref& task, const files::task_root& root,
                           const files::resolved_path& target, const std::string& lease_path,
                           const body_reader& body, const upload_request& req) {
  files::check_upload_target(target, req.is_zip);
  const files::held_entry& dest = target.target();
  auto staging_ptr = std::make_shared<files::staging_dir>(dest.dir.get());
  const files::staging_dir& staging = *staging_ptr;
  upload_result result;
  const files::ownership own = files::upload_ownership(dest, req.is_zip);

  // 1. Receive and prepare everything without holding the task.
  if (req.is_zip) {
    auto [bytes, stats] = receive_and_extract(body, staging, req, own);
    ::unlinkat(staging.fd(), "upload.zip", 0);
    result.bytes_received = bytes;
    result.files = stats.files;
  } else {
    const unique_fd fd = staging.create_file(files::staged_name, 0600);
    result.bytes_received = receive(body, fd.get(), req, nullptr);
    result.files = 1;
  }
  files::apply_ownership(staging.fd(), files::staged_name, own);

  // 2. Swap while the task is held (and, for PUT, its serving pools stopped).
  change_lease lease(client, task, lease_path, req.stop_pools);
  result.stopped_pools = lease.stopped_pools();
  files::place_upload(root, dest, staging, req.is_zip, req.clean);
  lease.finish();
  result.leftovers = std::move(staging_ptr);
  return result;
}

}  // namespace nomad_iis::http
