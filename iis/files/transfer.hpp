#pragma once
// The Management API's file operations on a task directory as jobs in steps,
// each step short and run on a blocking worker: an upload is prepared, fed
// its body block by block (a zip is extracted as it arrives), finished, then
// swapped in while the caller holds the task; a delete is prepared, then
// applied while the task is held; a download is opened, then read block by
// block (a folder as a zip made while it streams). A job's steps run one at
// a time; what a job leaves (a replaced tree, a staging folder) goes with
// release() or its destructor.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/files/zip_extractor.hpp"

namespace nomad_iis::files {

/// Where a file operation works: the task's folders and the API path.
struct file_target {
  std::string task_dir;
  std::string secrets_dir;  ///< guarded unless allow_secrets
  bool allow_secrets = false;
  std::string path;  ///< decoded, relative to the task dir
};

struct upload_options {
  bool stop_pools = false;  ///< PUT: the pools serving the path stop for the swap
  bool clean = false;       ///< the folder holds only the archive's content afterwards
  bool is_zip = false;
  std::optional<std::uint64_t> content_length;
  std::uint64_t max_bytes = 0;
  zip_limits limits;
};

struct upload_outcome {
  std::uint64_t bytes_received = 0;
  std::uint64_t files = 0;
  std::vector<std::string> stopped_pools;
};

/// Reads an open file block by block, exactly the size it had when opened.
class file_reader {
 public:
  file_reader(unique_fd fd, std::uint64_t size);
  /// Opens `path` for reading (a file the plugin made itself, e.g. a dump).
  static file_reader open_own(const std::string& path);
  std::uint64_t size() const { return size_; }
  /// Up to `max` bytes; "" at the end. Throws when the file shrank.
  std::string next_block(std::size_t max);

 private:
  unique_fd fd_;
  std::uint64_t size_;
  std::uint64_t left_;
};

class upload_job {
 public:
  upload_job(file_target target, upload_options options);
  ~upload_job();
  /// Resolves the target, checks it, makes the staging folder. Throws file_error.
  void prepare();
  /// The next block of the body; 413 past max_bytes, a refused zip entry 400.
  void write(const std::string& block);
  /// The body ended: checks its length, completes the zip, sets owners.
  void finish();
  /// Puts the staged content in place (the caller holds the task).
  void swap();
  /// The path the task actor knows the change by (task dir + relative).
  std::string change_path() const;
  bool stops_pools() const { return options_.stop_pools; }
  upload_outcome outcome() const;
  /// Removes what is left (the replaced tree, a staging folder).
  void release();

 private:
  struct state;
  file_target target_;
  upload_options options_;
  std::unique_ptr<state> state_;
};

class delete_job {
 public:
  explicit delete_job(file_target target);
  ~delete_job();
  /// Resolves and checks the target and stages its removal. Throws file_error.
  void prepare();
  /// Moves it away (the caller holds the task).
  void apply();
  std::string change_path() const;
  void release();

 private:
  struct state;
  file_target target_;
  std::unique_ptr<state> state_;
};

/// What a download sends.
struct download_head {
  bool is_zip = false;
  std::string filename;
  std::optional<std::uint64_t> length;  ///< none for a zip made while it streams
};

class download_job {
 public:
  /// `task_name` names the zip of the task dir itself.
  download_job(file_target target, std::string task_name);
  /// A download of a file the plugin made itself outside the task dir (a
  /// core dump): `keep` owns the file and goes with release().
  static std::shared_ptr<download_job> of_own_file(std::string path, std::string filename,
                                                   std::shared_ptr<void> keep);
  ~download_job();
  /// Resolves and opens the file or folder. Throws file_error.
  download_head open();
  /// Up to about `max` bytes; "" at the end.
  std::string next_block(std::size_t max);
  void release();

 private:
  struct state;
  file_target target_;
  std::string task_name_;
  std::string own_path_;  ///< of_own_file: the file, named task_name_
  std::shared_ptr<void> keep_;
  std::unique_ptr<state> state_;
};

/// One entry of a folder listing, as lstat saw it (a symlink is not followed).
struct listed_entry {
  std::string name;
  std::string type;  ///< "file", "directory", "symlink" or "other"
  std::uint64_t size = 0;
  std::int64_t modified = 0;  ///< mtime, seconds since the epoch
};

struct folder_listing {
  std::string path;                   ///< normalised, "" for the task dir itself
  std::vector<listed_entry> entries;  ///< sorted by name
};

/// The entries of the folder `target.path` names, without what a folder
/// download leaves out (staging folders, guarded folders). Throws
/// file_error: not_found, bad_request when it is a file.
folder_listing list_folder(const file_target& target);

}  // namespace nomad_iis::files
