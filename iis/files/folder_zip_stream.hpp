#pragma once
// A folder download as a zip, produced a chunk at a time when the reader
// wants the next one (pull): no thread writes ahead or waits for the
// client. libarchive's zip writer (deflate level 1, data descriptors, so it
// never seeks) runs in a fiber (common/fiber.hpp) with the folder walk; its
// write callback suspends once a chunk is full and next() returns it.
//
// Entries: each folder ("name/", mode 0755) and each regular file the walk
// visits (mode 0644, 0755 when its owner may execute it; made on Unix), with
// its mtime. A file that changes while it is read gives a valid zip: it is
// read up to the size the walk saw, less if it shrank (the data descriptor
// and central directory carry what was written). Memory stays bounded: one
// 256 KiB read buffer, the chunk, and the central directory libarchive
// keeps (tens of bytes per entry).

#include <sys/stat.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace nomad_iis::files {

/// What a folder walk reports: folders with `fd` -1, regular files with `fd`
/// open for reading (the walk's: read only during the call).
using folder_visitor =
    std::function<void(std::string_view relative, int fd, const struct stat& st)>;
/// A walk of one folder, parents first, e.g. walk_folder_files bound to it.
using folder_walk = std::function<void(const folder_visitor&)>;

class folder_zip_stream {
 public:
  static constexpr std::size_t default_chunk_bytes = 512 << 10;

  /// Nothing runs before the first next().
  explicit folder_zip_stream(folder_walk walk, std::size_t chunk_bytes = default_chunk_bytes);
  /// Unfinished (the client went away): the walk is unwound and every
  /// descriptor it opened is closed.
  ~folder_zip_stream();
  folder_zip_stream(const folder_zip_stream&) = delete;
  folder_zip_stream& operator=(const folder_zip_stream&) = delete;

  /// Replaces `chunk` with the next bytes of the zip: at least chunk_bytes
  /// (plus what the writer gave at once, at most ~64 KiB) but for the last.
  /// Returns false, `chunk` empty, once the zip is complete. Throws what the
  /// walk throws, or file_error internal ("zip_failed") when the writer
  /// fails; the stream is spent then.
  bool next(std::string& chunk);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nomad_iis::files
