#pragma once
// The records a zip archive ends with (central directory, zip64 end record
// and locator, end record), read front to back as the upload arrives.
//
// Hand-written on purpose, and only this: a streaming reader (libarchive's
// included) stops at the first central directory header, and every reader
// that parses the central directory (libarchive's seekable one, minizip,
// Poco) wants to seek the whole archive. The central directory is where a
// symlink shows (its Unix mode) and the archive's own word on names and
// sizes, so zip_extractor checks what it extracted against it. Memory is
// bounded: at most `max_entries` headers and 64 MiB of records.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nomad_iis::files {

/// Where the trailer's bytes come from.
class byte_reader {
 public:
  virtual ~byte_reader() = default;
  /// Reads `n` bytes into `out`; fewer only at the end of the archive.
  virtual std::size_t read(char* out, std::size_t n) = 0;
};

/// What the central directory says of one entry.
struct central_entry {
  std::string name;                ///< as stored
  std::uint32_t unix_mode = 0;     ///< 0 unless made on Unix
  bool encrypted = false;          ///< general purpose flag bit 0
  std::uint64_t uncompressed = 0;  ///< from its zip64 field when it has one
  std::uint64_t offset = 0;        ///< of its local header, likewise
};

/// Reads the trailer from `in` (which starts at the first record after the
/// last entry) to the end of the archive: central directory headers, an
/// optional zip64 end record and locator, then the end record, then nothing.
/// Throws file_error bad_zip naming what is wrong (truncated, absurd sizes,
/// counts that disagree, bytes after the end).
std::vector<central_entry> read_zip_trailer(byte_reader& in, std::uint64_t max_entries);

}  // namespace nomad_iis::files
