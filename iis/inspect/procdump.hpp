#pragma once
// Core dumps of a pool's worker with gcore into a private temp dir; the
// caller streams the file, which goes away with the dir.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace nomad_iis::files {
class scoped_temp_dir;
}  // namespace nomad_iis::files

namespace nomad_iis::inspect {

struct core_dump {
  std::unique_ptr<files::scoped_temp_dir> dir;  ///< owns the file
  std::string path;
  std::uint64_t size = 0;
  ~core_dump();
  core_dump();
  core_dump(core_dump&&) noexcept;
  core_dump& operator=(core_dump&&) noexcept;
};

/// Dumps `pid` with the gcore at `tool`. Throws inspect_error (unavailable
/// when the tool is missing, timeout, failed when it fails).
core_dump dump_process(const std::string& tool, std::int32_t pid,
                       std::chrono::milliseconds timeout);

}  // namespace nomad_iis::inspect
