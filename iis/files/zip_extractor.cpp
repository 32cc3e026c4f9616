#include "iis/files/zip_extractor.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "common/beneath.hpp"
#include "common/fiber.hpp"
#include "common/staging_name.hpp"
#include "common/unique_fd.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/utf8_names.hpp"
#include "iis/files/zip_trailer.hpp"

namespace nomad_iis::files {
namespace {

/// Bytes libarchive may have read but not consumed when it asks for the next
/// chunk: at most a local header with its name and extra field (~128 KiB).
constexpr std::size_t max_pending = 1 << 20;
/// Local-header bytes (names) held in memory for the end check, at most.
constexpr std::uint64_t max_header_bytes = 64ull << 20;
constexpr std::uint64_t local_header_fixed = 30;

file_error refused(const std::string& entry, const std::string& why) {
  return bad_request("bad_zip_entry", "zip entry \"" + entry + "\": " + why);
}

file_error malformed(const std::string& why) {
  return bad_request("bad_zip", "malformed zip archive: " + why);
}

/// Opens (creating as needed) the folders `relative` below `dest_fd`,
/// never through a symlink.
unique_fd make_dirs(int dest_fd, const std::string& relative, const std::string& entry) {
  unique_fd dir = make_dirs_beneath(dest_fd, relative, 0755);
  if (!dir) {
    if (errno == ENOTDIR || errno == ELOOP || errno == EEXIST)
      throw refused(entry, "a file of the archive is in the way of its folder");
    throw refused(entry, std::string("cannot create its folder: ") + std::strerror(errno));
  }
  return dir;
}

void write_all(int fd, const char* data, std::size_t n, const std::string& entry) {
  while (n > 0) {
    auto w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw file_error(file_errc::no_space, "write_failed",
                       "writing \"" + entry + "\" failed: " + std::strerror(errno));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// Empties the folder `dest_fd` (what a refused archive left there).
void clear_dir(int dest_fd) {
  unique_fd copy(::openat(dest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* dir = copy ? ::fdopendir(copy.get()) : nullptr;
  if (!dir) return;
  copy.release();
  std::vector<std::string> names;
  while (const dirent* ent = ::readdir(dir)) {
    const std::string name = ent->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) remove_beneath(dest_fd, name);
}

std::string error_text(archive* a) {
  std::string why = archive_error_string(a) ? archive_error_string(a) : "unknown error";
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

/// Why libarchive refused an entry's data, in our words (its own in brackets).
std::string data_failure(archive* a) {
  const std::string why = error_text(a);
  static const std::pair<const char*, const char*> known[] = {
      {"ZIP bad CRC", "CRC mismatch"},
      {"ZIP compressed data is wrong size", "its compressed size does not match its data"},
      {"ZIP uncompressed data is wrong size", "its declared size does not match its data"},
      {"ZIP decompression failed", "the compressed data is corrupt"},
      {"Truncated", "the data ends early"},
  };
  for (const auto& [theirs, ours] : known)
    if (why.rfind(theirs, 0) == 0) return std::string(ours) + " (" + why + ")";
  return "cannot be read (" + why + ")";
}

/// libarchive tells an entry's compression method only in the format name
/// it gives each entry: "ZIP 2.0 (deflation)", "ZIP 1.0 (uncompressed)".
void check_method(archive* a, const std::string& entry) {
  const std::string_view format = archive_format_name(a) ? archive_format_name(a) : "";
  if (format.find("(deflation)") != std::string_view::npos ||
      format.find("(uncompressed)") != std::string_view::npos)
    return;
  const auto open = format.rfind('('), close = format.rfind(')');
  const std::string method = open != std::string_view::npos && close > open
                                 ? std::string(format.substr(open + 1, close - open - 1))
                                 : std::string("unknown");
  throw refused(entry, "unsupported compression method " + method);
}

struct reader_free {
  void operator()(archive* a) const { archive_read_free(a); }
};

}  // namespace

std::string checked_entry_name(const std::string& name) {
  if (name.empty()) throw refused(name, "empty name");
  if (name.size() > 4096) throw refused(name.substr(0, 64) + "...", "name too long");
  for (unsigned char c : name) {
    if (c == 0 || c < 0x20 || c == 0x7f) throw refused(name, "the name holds a control character");
    if (c == '\\') throw refused(name, "the name holds a backslash");
  }
  if (name.front() == '/') throw refused(name, "absolute names are not allowed");
  if (name.size() >= 2 && name[1] == ':') throw refused(name, "drive-letter names are not allowed");
  std::string clean;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    auto part = name.substr(start, end - start);
    if (part == "..") throw refused(name, "\"..\" leads outside the target folder");
    if (part.size() > 255) throw refused(name, "a name component is too long");
    if (is_staging_name(part)) throw refused(name, "staging folder names are reserved");
    if (!part.empty() && part != ".") clean += (clean.empty() ? "" : "/") + part;
    start = end + 1;
  }
  if (clean.empty()) throw refused(name, "the name is empty once normalised");
  return clean;
}

/// The fiber's side reads chunks through next_chunk() (libarchive's read
/// callback, then the trailer as a byte_reader); the feeder's side hands
/// them over in feed() and resumes it. A chunk stays valid until the fiber
/// suspends again, which it only does for the next chunk.
struct zip_extractor::impl final : byte_reader {
  impl(int dest, zip_limits l) : dest_fd(dest), limits(l) {}

  ~impl() override {
    if (!worker.started() || worker.finished()) return;
    abandoned = true;  // every wait for a chunk ends now; the body unwinds and clears dest
    const utf8_names names;
    try {
      while (worker.resume()) {
      }
    } catch (...) {  // the body's own "abandoned" failure
    }
  }

  void step() {
    const utf8_names names;
    try {
      worker.resume();
    } catch (...) {
      failure = std::current_exception();
      throw;
    }
  }

  /// Fiber side: the next chunk fed; empty at the end of the body or once
  /// abandoned.
  std::string_view next_chunk() {
    while (fed.empty() && !ended && !abandoned) worker.suspend();
    if (abandoned) return {};
    return std::exchange(fed, {});
  }

  void stop_if_abandoned() const {
    if (abandoned) throw internal_error("abandoned", "the upload was abandoned");
  }

  void run() {
    try {
      extract();
    } catch (...) {
      clear_dir(dest_fd);
      throw;
    }
  }

  void extract() {
    std::unique_ptr<archive, reader_free> a(archive_read_new());
    if (!a) throw std::bad_alloc();
    archive_read_support_format_zip_streamable(a.get());
    if (archive_read_open(a.get(), this, nullptr, &impl::read_chunk, nullptr) != ARCHIVE_OK) {
      stop_if_abandoned();
      throw malformed("no entries found (empty or not a zip archive)");
    }
    archive_entry* entry = nullptr;
    while (true) {
      watch_signature(static_cast<std::uint64_t>(archive_filter_bytes(a.get(), -1)));
      const int r = archive_read_next_header(a.get(), &entry);
      if (r == ARCHIVE_EOF) {
        // libarchive steps over bytes that are no record while it looks for
        // the next one; the trailer must start where the last entry ended.
        if (archive_filter_bytes(a.get(), -1) != archive_read_header_position(a.get()))
          throw malformed("unexpected data after the entries");
        break;
      }
      if (r != ARCHIVE_OK) {
        stop_if_abandoned();
        const char* name = entry ? archive_entry_pathname(entry) : nullptr;
        if (r == ARCHIVE_WARN && name) throw refused(name, error_text(a.get()));
        throw malformed(error_text(a.get()));
      }
      // libarchive also steps over bytes before a local header it finds.
      if (signature != "PK\3\4") throw malformed("unexpected data between the entries");
      extract_entry(a.get(), entry);
      if (archive_read_data_skip(a.get()) != ARCHIVE_OK) {  // its data descriptor
        stop_if_abandoned();
        throw refused(archive_entry_pathname(entry), data_failure(a.get()));
      }
    }
    start_trailer(static_cast<std::uint64_t>(archive_filter_bytes(a.get(), -1)));
    a.reset();
    verify(read_zip_trailer(*this, limits.max_entries));
  }

  void extract_entry(archive* a, archive_entry* entry) {
    const char* raw = archive_entry_pathname(entry);
    if (!raw) throw malformed("an entry has no name");
    const std::string name(raw);
    if (++count > limits.max_entries)
      throw too_large("zip_too_many_entries", "the zip archive has more than " +
                                                  std::to_string(limits.max_entries) + " entries");
    header_bytes += local_header_fixed + name.size();
    if (header_bytes > max_header_bytes) throw malformed("the entries' headers are too large");
    if (extracted.count(name)) throw refused(name, "the name appears twice in the archive");
    const std::string clean = checked_entry_name(name);
    if (archive_entry_is_encrypted(entry))
      throw refused(name, "encrypted entries are not supported");
    // Where the last entry ended; the central directory must agree (else
    // libarchive stepped over bytes between the two).
    extracted[name].start = static_cast<std::uint64_t>(archive_read_header_position(a));
    switch (archive_entry_filetype(entry)) {
      case AE_IFDIR:
        make_dirs(dest_fd, clean, name);
        ++stats.directories;
        return;  // libarchive steps over a folder's (deflated, empty) body itself
      case AE_IFREG:
        break;
      case AE_IFLNK:
        throw refused(name, "symlink entries are not allowed");
      default:
        throw refused(name, "only files and folders are allowed");
    }
    check_method(a, name);
    extracted[name].size = extract_file(a, entry, name, clean);
    ++stats.files;
  }

  /// Writes the entry's data into a new file; returns its size.
  std::uint64_t extract_file(archive* a, archive_entry* entry, const std::string& name,
                             const std::string& clean) {
    const bool has_declared = archive_entry_size_is_set(entry) != 0;
    const auto declared = static_cast<std::uint64_t>(archive_entry_size(entry));
    if (has_declared && declared > limits.max_uncompressed_bytes - stats.bytes)
      throw too_large_error();
    const auto slash = clean.rfind('/');
    const unique_fd dir = make_dirs(
        dest_fd, slash == std::string::npos ? std::string() : clean.substr(0, slash), name);
    const std::string base = slash == std::string::npos ? clean : clean.substr(slash + 1);
    const unique_fd out(::openat(dir.get(), base.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!out) throw refused(name, std::string("cannot be written: ") + std::strerror(errno));
    const auto start = archive_filter_bytes(a, -1);
    std::uint64_t written = 0;
    while (true) {
      const void* data = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      const int r = archive_read_data_block(a, &data, &size, &offset);
      const auto consumed = static_cast<std::uint64_t>(archive_filter_bytes(a, -1) - start);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK) {  // ARCHIVE_WARN too: that is how a bad CRC or size is told
        stop_if_abandoned();
        throw refused(name, data_failure(a));
      }
      if (offset < 0 || static_cast<std::uint64_t>(offset) != written)
        throw refused(name, "its data has holes");
      // One call behind: libarchive consumes a stored entry's bytes on the next call.
      check_ratio(name, written, consumed);
      written += size;
      stats.bytes += size;
      if (stats.bytes > limits.max_uncompressed_bytes) throw too_large_error();
      if (has_declared && written > declared)
        throw refused(name, "inflates beyond its declared size");
      write_all(out.get(), static_cast<const char*>(data), size, name);
    }
    check_ratio(name, written, static_cast<std::uint64_t>(archive_filter_bytes(a, -1) - start));
    return written;
  }

  /// A zip bomb by ratio: `out` bytes inflated from `in` compressed ones.
  void check_ratio(const std::string& name, std::uint64_t out, std::uint64_t in) const {
    if (limits.max_ratio == 0 || out <= ratio_floor || out / limits.max_ratio <= in) return;
    throw too_large("zip_ratio_too_high", "zip entry \"" + name + "\" expands to more than " +
                                              std::to_string(limits.max_ratio) +
                                              " times its compressed size (zip_max_ratio)");
  }

  file_error too_large_error() const {
    return too_large("zip_too_large", "the zip archive expands to more than " +
                                          std::to_string(limits.max_uncompressed_bytes) + " bytes");
  }

  /// The central directory must list exactly what was extracted, with the
  /// same sizes, and no symlink entry; its exec bits are applied.
  void verify(const std::vector<central_entry>& central) {
    for (const auto& e : central) {
      // The name as stored: libarchive turns "a\b" of a DOS-made archive into "a/b".
      const std::string clean = checked_entry_name(e.name);
      const auto found = extracted.find(e.name);
      if (found == extracted.end())
        throw refused(e.name, "listed in the central directory but has no local header");
      if ((e.unix_mode & S_IFMT) == S_IFLNK)
        throw refused(e.name, "symlink entries are not allowed");
      if (e.encrypted) throw refused(e.name, "encrypted entries are not supported");
      if (e.offset != found->second.start)
        throw refused(e.name,
                      "the central directory puts its header elsewhere (data between entries?)");
      if (e.name.back() == '/') continue;
      if (e.uncompressed != found->second.size)
        throw refused(e.name, "the central directory and the data disagree on its size");
      if ((e.unix_mode & 0100) != 0) make_executable(clean);
    }
    if (central.size() != count)
      throw malformed("the central directory lists " + std::to_string(central.size()) +
                      " entries, the archive holds " + std::to_string(count) + " (truncated?)");
  }

  /// Gives an extracted file mode 0755, opened below the destination
  /// without following any symlink.
  void make_executable(const std::string& clean) const {
    const unique_fd fd = open_beneath(dest_fd, clean, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd) ::fchmod(fd.get(), 0755);
  }

  // libarchive's side. It may hold bytes of a chunk it has read but not
  // consumed (a header cut by the chunk's end) in its own buffer; they are
  // kept in `pending` too, because the trailer starts at the first byte it
  // did not consume.

  static la_ssize_t read_chunk(archive* a, void* self, const void** buf) noexcept {
    auto& x = *static_cast<impl*>(self);
    if (!x.keep_unconsumed(static_cast<std::uint64_t>(archive_filter_bytes(a, -1)))) {
      archive_set_error(a, EOVERFLOW, "a header longer than any zip header");
      return ARCHIVE_FATAL;
    }
    const std::string_view chunk = x.next_chunk();
    if (x.abandoned) {
      archive_set_error(a, ECANCELED, "the upload was abandoned");
      return ARCHIVE_FATAL;
    }
    x.block = chunk;
    x.handed += chunk.size();
    x.fill_signature();
    *buf = chunk.data();
    return static_cast<la_ssize_t>(chunk.size());
  }

  /// Keeps the bytes handed to libarchive from `consumed` on.
  bool keep_unconsumed(std::uint64_t consumed) {
    const std::uint64_t block_start = handed - block.size();
    if (consumed < pending_start) return false;
    if (consumed >= block_start) {
      pending.clear();
      if (consumed < handed) pending.append(block.substr(consumed - block_start));
    } else {
      pending.erase(0, consumed - pending_start);
      pending.append(block);
    }
    pending_start = consumed;
    block = {};
    return pending.size() <= max_pending;
  }

  /// Collects the 4 bytes at `at` (where the next record must start) as
  /// they are handed to libarchive.
  void watch_signature(std::uint64_t at) {
    signature.clear();
    signature_at = at;
    fill_signature();
  }

  void fill_signature() {
    const std::uint64_t block_start = handed - block.size();
    while (signature.size() < 4) {
      const std::uint64_t pos = signature_at + signature.size();
      if (pos >= handed || pos < pending_start) return;
      signature += pos >= block_start ? block[pos - block_start] : pending[pos - pending_start];
    }
  }

  /// The trailer reads on from `consumed`, the first byte libarchive left.
  void start_trailer(std::uint64_t consumed) {
    const std::uint64_t block_start = handed - block.size();
    if (consumed >= block_start) {
      head.clear();
      view = block.substr(std::min<std::uint64_t>(consumed - block_start, block.size()));
    } else {
      head = pending.substr(consumed - pending_start);
      view = block;
    }
    pending = std::string();
    block = {};
  }

  std::size_t read(char* out, std::size_t n) override {
    std::size_t got = 0;
    while (got < n) {
      if (head_at < head.size()) {
        const std::size_t take = std::min(n - got, head.size() - head_at);
        std::memcpy(out + got, head.data() + head_at, take);
        head_at += take;
        got += take;
      } else if (!view.empty()) {
        const std::size_t take = std::min(n - got, view.size());
        std::memcpy(out + got, view.data(), take);
        view.remove_prefix(take);
        got += take;
      } else {
        view = next_chunk();
        stop_if_abandoned();
        if (view.empty()) break;
      }
    }
    return got;
  }

  const int dest_fd;
  const zip_limits limits;
  // Between the feeder and the fiber.
  std::string_view fed;    ///< the chunk given and not yet taken
  bool ended = false;      ///< finish() was called
  bool abandoned = false;  ///< the destructor runs
  std::exception_ptr failure;
  zip_stats stats;
  // The fiber's side.
  std::uint64_t count = 0;         ///< entries met
  std::uint64_t header_bytes = 0;  ///< their local headers' bytes, about
  struct extracted_entry {
    std::uint64_t start = 0;  ///< offset of its local header
    std::uint64_t size = 0;   ///< bytes written
  };
  std::map<std::string, extracted_entry> extracted;  ///< by name as stored
  std::string_view block;                            ///< the chunk libarchive reads now
  std::uint64_t handed = 0;                          ///< bytes handed to libarchive
  std::string pending;  ///< handed bytes from pending_start on, before `block`
  std::uint64_t pending_start = 0;
  std::string signature;  ///< the first bytes at signature_at, as they come
  std::uint64_t signature_at = 0;
  std::string head;  ///< the trailer's first bytes, from `pending`
  std::size_t head_at = 0;
  std::string_view view;            ///< the trailer's bytes of the current chunk
  fiber worker{[this] { run(); }};  ///< last: destroyed first, after ~impl finished it
};

zip_extractor::zip_extractor(int dest_fd, zip_limits limits)
    : impl_(std::make_unique<impl>(dest_fd, limits)) {}

zip_extractor::~zip_extractor() = default;

void zip_extractor::feed(const char* data, std::size_t n) {
  if (impl_->failure) std::rethrow_exception(impl_->failure);
  if (impl_->ended) throw std::logic_error("zip_extractor: fed after finish()");
  if (n == 0) return;
  impl_->fed = std::string_view(data, n);
  impl_->step();
}

zip_stats zip_extractor::finish() {
  if (impl_->failure) std::rethrow_exception(impl_->failure);
  if (!impl_->worker.finished()) {
    impl_->ended = true;
    impl_->step();
  }
  return impl_->stats;
}

}  // namespace nomad_iis::files
