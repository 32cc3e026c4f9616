#pragma once
// PUT/PATCH of a file or a zip: the body goes to a staging folder beside the
// target (never into memory), a zip is extracted there with its guards, and
// only then is the target swapped under a change lease. Everything works on
// the descriptors resolution produced; nothing is looked up by path again.
// The filesystem steps are iis/files/staged_upload.hpp's; this file adds the
// body, the extracting thread and the lease.

#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/http/body_reader.hpp"
#include "adapters/http/task_client.hpp"
#include "adapters/http/zip_extract.hpp"
#include "iis/files/swap.hpp"
#include "iis/files/task_tree.hpp"

namespace nomad_iis::http {

struct upload_request {
  bool stop_pools = false;  ///< PUT: the pools serving the path stop for the swap
  bool clean = false;       ///< the folder holds only the archive's content afterwards
  bool is_zip = false;
  std::optional<std::uint64_t> content_length;
  std::uint64_t max_bytes = 0;
  zip_limits limits;
};

struct upload_result {
  std::uint64_t bytes_received = 0;
  std::uint64_t files = 0;
  std::vector<std::string> stopped_pools;
  /// What the swap replaced; dropping it removes the old tree, which the
  /// caller does after answering the client.
  std::shared_ptr<files::staging_dir> leftovers;
};

/// Receives `body` and applies it at `target` of `root`; `lease_path` is
/// the path the task actor knows (task dir + relative). Throws
/// files::file_error or http_error;
/// on any failure the target is unchanged and the staging folder is gone.
upload_result apply_upload(task_client& client, const task_ref& task, const files::task_root& root,
                           const files::resolved_path& target, const std::string& lease_path,
                           const body_reader& body, const upload_request& req);

}  // namespace nomad_iis::http
