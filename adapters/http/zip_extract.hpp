#pragma once
// Guarded zip extraction for uploads. Entries are extracted as the archive
// is read front to back (so extraction can overlap the upload): each local
// header is checked before its data is written (name, encryption, method,
// entry count, size budget), the bytes actually inflated are counted (so
// archives that lie about sizes are caught), and at the end the central
// directory must agree with what was extracted and hold no symlink entry.
// On any failure everything written to the destination is removed.

#include <cstdint>
#include <istream>
#include <string>

namespace nomad_iis::http {

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

/// Extracts the archive read from `in` (seekable within what it delivered)
/// into the existing, empty folder `dest_fd`, through descriptors only
/// (mkdirat, openat O_CREAT|O_EXCL|O_NOFOLLOW); an empty archive (only its
/// end record) extracts nothing. Throws http_error: 400 for a malformed
/// archive or a refused entry (the message names it), 413 past a limit;
/// `dest_fd` is left empty then.
zip_stats extract_zip_stream(std::istream& in, int dest_fd, const zip_limits& limits);

/// extract_zip_stream into the folder `dest` (opened once; for tests and
/// tools, never below a task directory).
zip_stats extract_zip_stream(std::istream& in, const std::string& dest, const zip_limits& limits);

/// extract_zip_stream of the archive file `zip_path` into the folder `dest`
/// (for tests and tools, like the overload above).
zip_stats extract_zip(const std::string& zip_path, const std::string& dest,
                      const zip_limits& limits);

/// Checks one entry name (as stored in the archive); throws http_error 400.
/// Returns the name normalised (no "." components, no trailing '/').
std::string checked_entry_name(const std::string& name);

}  // namespace nomad_iis::http
