#pragma once
// Guarded zip extraction of an upload, pushed a chunk at a time as the body
// arrives: no copy of the archive, no thread waiting for bytes. libarchive's
// streaming zip reader runs in a fiber (common/fiber.hpp) whose read callback
// suspends when it has consumed what was fed; feed() returns then.
//
// Guards: each entry's name is checked before anything is written (zip-slip,
// absolute, "..", backslashes, control characters, the plugin's staging
// names; "." parts are dropped), duplicates, encryption, compression
// other than stored/deflated, symlinks and other types are refused; entry
// count and total size are limited, so is the ratio of an entry past
// ratio_floor; an entry that inflates beyond its declared size is stopped;
// libarchive checks each entry's CRC and sizes against its headers. Entries
// are written through descriptors only (mkdirat, openat O_CREAT|O_EXCL|
// O_NOFOLLOW below dest_fd). At the end the central directory must list
// exactly what was extracted, with the same sizes, and no symlink; its Unix
// exec bits are applied then. On any failure dest is left empty.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace nomad_iis::files {

struct zip_limits {
  std::uint64_t max_entries = 100000;
  std::uint64_t max_uncompressed_bytes = 8ull << 30;
  /// An entry may inflate to at most this many times the compressed bytes
  /// it consumed, once past ratio_floor; 0 = no limit.
  std::uint64_t max_ratio = 200;
};

/// Entries below this size are never refused for their ratio: small files
/// of zeros or repeated text legitimately compress far better than 200:1.
constexpr std::uint64_t ratio_floor = 1 << 20;

struct zip_stats {
  std::uint64_t files = 0;
  std::uint64_t directories = 0;
  std::uint64_t bytes = 0;
};

/// One archive extracted into one folder. Not thread-safe: one call at a
/// time, from any thread. Each call returns once the bytes given so far are
/// consumed (written out or, for a header cut by the chunk, kept).
class zip_extractor {
 public:
  /// `dest_fd`: an existing, empty folder (the caller keeps it open).
  zip_extractor(int dest_fd, zip_limits limits);
  /// Unfinished (no finish(), or a failure): abandons; dest is left empty
  /// and every descriptor opened for the archive is closed.
  ~zip_extractor();
  zip_extractor(const zip_extractor&) = delete;
  zip_extractor& operator=(const zip_extractor&) = delete;

  /// The next `n` bytes of the archive; extracts what they complete. Throws
  /// file_error when the archive is refused: bad_request (400, "bad_zip" for
  /// a malformed archive, "bad_zip_entry" naming a refused entry), too_large
  /// (413: zip_too_many_entries, zip_too_large, zip_ratio_too_high),
  /// no_space (507 write_failed). dest is empty then, and every later call
  /// throws the same error.
  void feed(const char* data, std::size_t n);
  /// The end of the body: completes the extraction and runs the end checks
  /// (a cut archive is refused here). Throws as feed() does.
  zip_stats finish();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Checks one entry name (as stored in the archive); throws file_error
/// bad_zip_entry. Returns the name normalised (no "." components, no
/// trailing '/').
std::string checked_entry_name(const std::string& name);

}  // namespace nomad_iis::files
