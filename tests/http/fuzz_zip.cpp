// libFuzzer target: guarded zip extraction. Whatever the archive, extraction
// either refuses it (http_error 4xx, destination left empty) or writes only
// regular files and folders inside the destination, within the limits.
// Built by scripts/fuzz-http.sh.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include "adapters/http/http_error.hpp"
#include "adapters/http/zip_extract.hpp"

using namespace nomad_iis::http;

namespace {

std::string make_root() {
  char tmpl[] = "/tmp/fuzz-zip-XXXXXX";
  return ::mkdtemp(tmpl);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string root = make_root();
  const std::string dest = root + "/dest";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(dest);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  zip_limits limits{64, 1 << 20};
  try {
    auto stats = extract_zip_stream(in, dest, limits);
    if (stats.bytes > limits.max_uncompressed_bytes ||
        stats.files + stats.directories > limits.max_entries)
      std::abort();
  } catch (const http_error& e) {
    if (e.status() < 400 || e.status() >= 500) std::abort();
    if (!std::filesystem::is_empty(dest)) std::abort();  // a refused archive leaves nothing
  }
  // Nothing may appear beside dest, and nothing below it may be a link.
  for (auto& entry : std::filesystem::directory_iterator(root))
    if (entry.path() != dest) std::abort();
  for (auto& entry : std::filesystem::recursive_directory_iterator(dest))
    if (entry.is_symlink()) std::abort();
  return 0;
}
