#include "iis/files/folder_zip_stream.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <utility>
#include <vector>

#include "common/fiber.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/utf8_names.hpp"

namespace nomad_iis::files {
namespace {

constexpr std::size_t read_bytes = 256 << 10;

struct writer_free {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct entry_free {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

file_error zip_failed(archive* a) {
  const char* why = archive_error_string(a);
  return internal_error("zip_failed",
                        std::string("writing the zip failed: ") + (why ? why : "unknown error"));
}

}  // namespace

struct folder_zip_stream::impl {
  impl(folder_walk w, std::size_t bytes) : walk(std::move(w)), chunk_bytes(bytes) {}

  ~impl() {
    if (!worker.started() || worker.finished()) return;
    abandoned = true;  // the next write fails, the walk unwinds
    const utf8_names names;
    try {
      while (worker.resume()) {
      }
    } catch (...) {  // the body's own "abandoned" failure
    }
  }

  bool next(std::string& chunk) {
    chunk.clear();
    if (worker.finished()) return false;
    out = &chunk;
    const utf8_names names;
    try {
      worker.resume();
    } catch (...) {
      out = nullptr;
      throw;
    }
    out = nullptr;
    return !chunk.empty();
  }

  void stop_if_abandoned() const {
    if (abandoned) throw internal_error("abandoned", "the download was abandoned");
  }

  void run() {
    const std::unique_ptr<archive, writer_free> a(archive_write_new());
    if (!a) throw std::bad_alloc();
    if (archive_write_set_format_zip(a.get()) != ARCHIVE_OK ||
        archive_write_zip_set_compression_deflate(a.get()) != ARCHIVE_OK ||
        archive_write_set_options(a.get(), "zip:compression-level=1") != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a.get(), 0) != ARCHIVE_OK ||  // unbuffered, unpadded
        archive_write_open2(a.get(), this, nullptr, &impl::write_out, nullptr, nullptr) !=
            ARCHIVE_OK)
      throw zip_failed(a.get());
    try {
      walk([&](std::string_view relative, int fd, const struct stat& st) {
        stop_if_abandoned();
        add(a.get(), relative, fd, st);
      });
      if (archive_write_close(a.get()) != ARCHIVE_OK) throw zip_failed(a.get());
    } catch (...) {
      // archive_write_free still closes the zip, which is the only way it
      // ends the entry's deflate stream: let that output go nowhere.
      discard = true;
      throw;
    }
  }

  void add(archive* a, std::string_view relative, int fd, const struct stat& st) {
    const std::unique_ptr<archive_entry, entry_free> e(archive_entry_new());
    if (!e) throw std::bad_alloc();
    archive_entry_set_pathname(e.get(), std::string(relative).c_str());  // a folder gets its '/'
    archive_entry_set_mtime(e.get(), st.st_mtime, 0);
    const bool folder = fd < 0;
    archive_entry_set_filetype(e.get(), folder ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e.get(), folder || (st.st_mode & S_IXUSR) != 0 ? 0755 : 0644);
    archive_entry_set_size(e.get(), folder ? 0 : st.st_size);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) throw zip_failed(a);
    if (!folder) copy(a, fd, static_cast<std::uint64_t>(std::max<off_t>(st.st_size, 0)));
  }

  /// At most `size` bytes of `fd` into the entry: fewer if it shrank (or
  /// cannot be read further), never more (the header promised `size`).
  void copy(archive* a, int fd, std::uint64_t size) {
    if (buf.empty()) buf.resize(read_bytes);
    while (size > 0) {
      const auto n = ::read(fd, buf.data(), std::min<std::uint64_t>(size, buf.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      if (archive_write_data(a, buf.data(), static_cast<std::size_t>(n)) < 0) throw zip_failed(a);
      stop_if_abandoned();
      size -= static_cast<std::uint64_t>(n);
    }
  }

  /// libarchive's output: into the caller's chunk; a full chunk goes out.
  /// Once abandoned or failed it is dropped: a write error would leave
  /// libarchive unable to free what the current entry holds.
  static la_ssize_t write_out(archive* a, void* self, const void* data, std::size_t n) noexcept {
    auto& x = *static_cast<impl*>(self);
    if (x.abandoned || x.discard || !x.out) return static_cast<la_ssize_t>(n);
    try {
      x.out->append(static_cast<const char*>(data), n);
    } catch (const std::bad_alloc&) {
      archive_set_error(a, ENOMEM, "out of memory");
      return ARCHIVE_FATAL;
    }
    if (x.out->size() >= x.chunk_bytes) x.worker.suspend();  // next() resumes here
    return static_cast<la_ssize_t>(n);
  }

  folder_walk walk;
  const std::size_t chunk_bytes;
  std::string* out = nullptr;  ///< the caller's chunk, during next()
  bool abandoned = false;
  bool discard = false;  ///< the body failed: what libarchive still writes goes nowhere
  std::vector<char> buf;
  fiber worker{[this] { run(); }};  ///< last: destroyed first, after ~impl finished it
};

folder_zip_stream::folder_zip_stream(folder_walk walk, std::size_t chunk_bytes)
    : impl_(std::make_unique<impl>(std::move(walk), chunk_bytes)) {}

folder_zip_stream::~folder_zip_stream() = default;

bool folder_zip_stream::next(std::string& chunk) {
  return impl_->next(chunk);
}

}  // namespace nomad_iis::files
