#pragma once
// Messages of the Management API's file operations, sent to a task's actor:
// the task runs them (actors/task_files.hpp) in its own order of operations,
// the HTTP adapter only moves the bytes. An upload or a download is a
// transfer the task keeps until its end or until the actor that opened it
// is gone; a refusal of the files module comes back as a caf::error of the
// "files" category (messages/error.hpp: file_failure_of).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace nomad_iis::msg {

/// Where a file operation works, as the request names it (what it may
/// reach and the limits of an upload are the task's driver config).
struct file_target {
  std::string path;  ///< decoded, relative to the task dir
};

/// Opens an upload (PUT: stop_pools; PATCH: not). The task stages it and
/// answers with its transfer_id; the body follows in upload_block messages.
struct upload_begin {
  file_target target;
  bool stop_pools = false;
  bool clean = false;
  bool is_zip = false;
  bool has_length = false;
  std::uint64_t content_length = 0;
};

struct transfer_id {
  std::uint64_t id = 0;
};

/// The next piece of an upload's body; answered once it is written, so the
/// sender reads the next piece only then.
struct upload_block {
  std::uint64_t id = 0;
  std::string bytes;
};

/// The body is complete: the task checks it, swaps it in (holding the task,
/// stopping the serving pools for a PUT) and answers upload_done.
struct upload_end {
  std::uint64_t id = 0;
};

struct upload_done {
  std::uint64_t bytes_received = 0;
  std::uint64_t files = 0;
  std::vector<std::string> stopped_pools;
};

/// Removes a file or folder (`dir/*`: empties it); answered when it is gone.
struct delete_path {
  file_target target;
};

/// Opens a download; answered with what it sends, then read block by block.
struct download_begin {
  file_target target;
};

struct download_started {
  std::uint64_t id = 0;
  bool is_zip = false;
  std::string filename;
  bool has_length = false;
  std::uint64_t length = 0;
};

/// The next block of a download, up to `max` bytes; "" at its end.
struct download_next {
  std::uint64_t id = 0;
  std::uint64_t max = 0;
};

struct file_block {
  std::string bytes;
};

/// Lists a folder's entries; answered with folder_listing.
struct list_folder {
  file_target target;
};

struct listed_entry {
  std::string name;
  std::string type;  ///< "file", "directory", "symlink" or "other"
  std::uint64_t size = 0;
  std::int64_t modified = 0;  ///< seconds since the epoch
};

struct folder_listing {
  std::string path;  ///< normalised, "" for the task dir
  std::vector<listed_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_folder& x) {
  return f(caf::meta::type_name("list_folder"), x.target);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, listed_entry& x) {
  return f(caf::meta::type_name("listed_entry"), x.name, x.type, x.size, x.modified);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, folder_listing& x) {
  return f(caf::meta::type_name("folder_listing"), x.path, x.entries);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_target& x) {
  return f(caf::meta::type_name("file_target"), x.path);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_begin& x) {
  return f(caf::meta::type_name("upload_begin"), x.target, x.stop_pools, x.clean, x.is_zip,
           x.has_length, x.content_length);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_id& x) {
  return f(caf::meta::type_name("transfer_id"), x.id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_block& x) {
  return f(caf::meta::type_name("upload_block"), x.id, x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_end& x) {
  return f(caf::meta::type_name("upload_end"), x.id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_done& x) {
  return f(caf::meta::type_name("upload_done"), x.bytes_received, x.files, x.stopped_pools);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delete_path& x) {
  return f(caf::meta::type_name("delete_path"), x.target);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, download_begin& x) {
  return f(caf::meta::type_name("download_begin"), x.target);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, download_started& x) {
  return f(caf::meta::type_name("download_started"), x.id, x.is_zip, x.filename, x.has_length,
           x.length);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, download_next& x) {
  return f(caf::meta::type_name("download_next"), x.id, x.max);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_block& x) {
  return f(caf::meta::type_name("file_block"), x.bytes);
}

}  // namespace nomad_iis::msg
