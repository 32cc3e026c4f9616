// libFuzzer target: iis/files/zip_extractor, fed in chunks. The first byte
// picks the chunk size (0: the whole body), the rest is the archive.
// Whatever they are, extraction either refuses the archive (file_error 400
// or 413, destination left empty) or writes only regular files and folders
// inside the destination, within the limits; no descriptor stays open.
// Built by scripts/fuzz-http.sh (target files-zip).

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/beneath.hpp"
#include "common/unique_fd.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/zip_extractor.hpp"

using namespace nomad_iis;
using namespace nomad_iis::files;

namespace {

std::string make_root() {
  char tmpl[] = "/tmp/fuzz-files-zip-XXXXXX";
  return ::mkdtemp(tmpl);
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string root = make_root();
  if (size == 0) return 0;
  const std::string dest = root + "/dest";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(dest);
  const std::size_t chunk = data[0] == 0 ? size : data[0];
  const char* archive = reinterpret_cast<const char*>(data + 1);
  const std::size_t length = size - 1;
  const zip_limits limits{64, 1 << 20, 200};
  const auto fds = open_fds();
  {
    const unique_fd dir = open_directory(dest);
    if (!dir) std::abort();
    try {
      zip_extractor x(dir.get(), limits);
      for (std::size_t at = 0; at < length; at += chunk)
        x.feed(archive + at, std::min(chunk, length - at));
      const auto stats = x.finish();
      if (stats.bytes > limits.max_uncompressed_bytes ||
          stats.files + stats.directories > limits.max_entries)
        std::abort();
    } catch (const file_error& e) {
      if (e.kind() != file_errc::bad_request && e.kind() != file_errc::too_large) std::abort();
      if (!std::filesystem::is_empty(dest)) std::abort();  // a refused archive leaves nothing
    }
  }
  if (open_fds() != fds) std::abort();
  // Nothing may appear beside dest, and nothing below it may be a link.
  for (auto& entry : std::filesystem::directory_iterator(root))
    if (entry.path() != dest) std::abort();
  for (auto& entry : std::filesystem::recursive_directory_iterator(dest))
    if (entry.is_symlink()) std::abort();
  return 0;
}
