#pragma once
// Guarded zip extraction for uploads: the whole archive is checked before
// anything is written (entry names, symlink entries, encryption, entry count,
// declared sizes), and extraction re-counts the bytes it actually inflates, so
// archives that lie about their sizes are caught too.

#include <cstdint>
#include <string>

namespace nomad_iis::http {

struct zip_limits {
  std::uint64_t max_entries = 100000;
  std::uint64_t max_uncompressed_bytes = 8ull << 30;
};

struct zip_stats {
  std::uint64_t files = 0;
  std::uint64_t directories = 0;
  std::uint64_t bytes = 0;
};

/// Extracts the archive file `zip_path` into the existing directory `dest`.
/// Throws http_error: 400 for a malformed archive or a refused entry (the
/// message names it), 413 past a limit. After a throw, `dest` may hold
/// partial output: it must be a staging directory the caller removes.
zip_stats extract_zip(const std::string& zip_path, const std::string& dest,
                      const zip_limits& limits);

/// Checks one entry name (as stored in the archive); throws http_error 400.
/// Returns the name without a trailing '/'.
std::string checked_entry_name(const std::string& name);

}  // namespace nomad_iis::http
