#include "adapters/http/zip_extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Zip/SkipCallback.h>
#include <Poco/Zip/ZipArchive.h>
#include <Poco/Zip/ZipLocalFileHeader.h>
#include <Poco/Zip/ZipStream.h>

#include "adapters/http/http_error.hpp"
#include "adapters/http/paths.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::size_t io_buffer = 1 << 20;

http_error refused(const std::string& entry, const std::string& why) {
  return bad_request("bad_zip_entry", "zip entry \"" + entry + "\": " + why);
}

http_error malformed(const std::string& why) {
  return bad_request("bad_zip", "malformed zip archive: " + why);
}

/// Counts local headers while ZipArchive parses, so duplicates (which its
/// name-keyed maps would hide) and archives with too many entries are caught
/// before reading them all.
class counting_callback : public Poco::Zip::SkipCallback {
 public:
  explicit counting_callback(std::uint64_t max_entries) : max_(max_entries) {}
  bool handleZipEntry(std::istream& in, const Poco::Zip::ZipLocalFileHeader& hdr) override {
    if (++count_ > max_)
      throw http_error(413, "zip_too_many_entries",
                       "the zip archive has more than " + std::to_string(max_) + " entries");
    if (!names_.insert(hdr.getFileName()).second)
      throw refused(hdr.getFileName(), "the name appears twice in the archive");
    return Poco::Zip::SkipCallback::handleZipEntry(in, hdr);
  }
  std::uint64_t count() const { return count_; }

 private:
  std::uint64_t max_;
  std::uint64_t count_ = 0;
  std::set<std::string> names_;
};

void make_dirs(const std::string& dest, const std::string& relative, const std::string& entry) {
  std::string path = dest;
  std::size_t start = 0;
  while (start < relative.size()) {
    auto end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    path += "/" + relative.substr(start, end - start);
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      throw refused(entry, std::string("cannot create its folder: ") + std::strerror(errno));
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw refused(entry, "a file of the archive is in the way of its folder");
    start = end + 1;
  }
}

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, const char* data, std::size_t n, const std::string& entry) {
  while (n > 0) {
    auto w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw http_error(507, "write_failed",
                       "writing \"" + entry + "\" failed: " + std::strerror(errno));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// Unix mode bits of an entry (0 unless made on Unix). Poco 1.11 keeps the
/// external attributes private and its getHostSystem() reads the wrong byte,
/// so both come from the central directory header it re-creates: "version
/// made by" (host system in its high byte) at offset 4, attributes at 38.
std::uint32_t unix_mode(const Poco::Zip::ZipFileInfo& info) {
  const auto raw = info.createHeader();
  constexpr std::size_t pos = 38;
  if (raw.size() < pos + 4 || static_cast<unsigned char>(raw[5]) != Poco::Zip::ZipCommon::HS_UNIX)
    return 0;
  std::uint32_t attrs = 0;
  for (int i = 3; i >= 0; --i) attrs = (attrs << 8) | static_cast<unsigned char>(raw[pos + i]);
  return attrs >> 16;
}

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
    if (!part.empty() && part != ".") clean += (clean.empty() ? "" : "/") + part;
    start = end + 1;
  }
  if (clean.empty()) throw refused(name, "the name is empty once normalised");
  return clean;
}

zip_stats extract_zip(const std::string& zip_path, const std::string& dest,
                      const zip_limits& limits) {
  std::vector<char> in_buf(io_buffer);
  std::ifstream in;
  in.rdbuf()->pubsetbuf(in_buf.data(), static_cast<std::streamsize>(in_buf.size()));
  in.open(zip_path, std::ios::binary);
  if (!in) throw http_error(500, "internal", "the staged upload cannot be read");

  counting_callback counter(limits.max_entries);
  std::unique_ptr<Poco::Zip::ZipArchive> archive;
  try {
    archive = std::make_unique<Poco::Zip::ZipArchive>(in, counter);
  } catch (const http_error&) {
    throw;
  } catch (const Poco::Exception& e) {
    throw malformed(e.displayText());
  } catch (const std::exception& e) {
    throw malformed(e.what());
  }

  // ---- check everything before writing anything ----
  std::uint64_t infos = 0, declared_total = 0;
  for (auto it = archive->fileInfoBegin(); it != archive->fileInfoEnd(); ++it) {
    const auto& info = it->second;
    const auto& name = info.getFileName();
    ++infos;
    checked_entry_name(name);
    if (archive->findHeader(name) == archive->headerEnd())
      throw refused(name, "listed in the central directory but has no local header");
    if (info.isEncrypted()) throw refused(name, "encrypted entries are not supported");
    if ((unix_mode(info) & S_IFMT) == S_IFLNK)
      throw refused(name, "symlink entries are not allowed");
    if (!info.isDirectory()) {
      auto method = info.getCompressionMethod();
      if (method != Poco::Zip::ZipCommon::CM_STORE && method != Poco::Zip::ZipCommon::CM_DEFLATE)
        throw refused(name, "unsupported compression method " + std::to_string(method));
      declared_total += info.getUncompressedSize();
      if (declared_total > limits.max_uncompressed_bytes)
        throw http_error(413, "zip_too_large",
                         "the zip archive expands to more than " +
                             std::to_string(limits.max_uncompressed_bytes) + " bytes");
    }
  }
  if (counter.count() == 0) throw malformed("no entries found (empty or not a zip archive)");
  if (infos != counter.count())
    throw malformed("the central directory lists " + std::to_string(infos) +
                    " entries, the archive holds " + std::to_string(counter.count()));

  // ---- extract, counting what actually inflates ----
  zip_stats stats;
  std::vector<char> buf(io_buffer);
  for (auto it = archive->fileInfoBegin(); it != archive->fileInfoEnd(); ++it) {
    const auto& info = it->second;
    const auto& name = info.getFileName();
    auto clean = checked_entry_name(name);
    if (info.isDirectory()) {
      make_dirs(dest, clean, name);
      ++stats.directories;
      continue;
    }
    auto slash = clean.rfind('/');
    if (slash != std::string::npos) make_dirs(dest, clean.substr(0, slash), name);
    const bool exec = (unix_mode(info) & 0100) != 0;
    std::string out_path = dest + "/" + clean;
    fd_closer out{::open(out_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                         exec ? 0755 : 0644)};
    if (out.fd < 0) throw refused(name, std::string("cannot be written: ") + std::strerror(errno));

    const auto declared = info.getUncompressedSize();
    std::uint64_t written = 0;
    try {
      in.clear();
      auto header = archive->findHeader(name);
      Poco::Zip::ZipInputStream zin(in, header->second, true);
      while (true) {
        zin.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        auto n = static_cast<std::size_t>(zin.gcount());
        if (n == 0) break;
        written += n;
        stats.bytes += n;
        if (written > declared) throw refused(name, "inflates beyond its declared size");
        if (stats.bytes > limits.max_uncompressed_bytes)
          throw http_error(413, "zip_too_large",
                           "the zip archive expands to more than " +
                               std::to_string(limits.max_uncompressed_bytes) + " bytes");
        write_all(out.fd, buf.data(), n, name);
      }
      if (zin.bad()) throw refused(name, "the compressed data is corrupt");
      if (written != declared) throw refused(name, "the data is shorter than declared");
      if (!zin.crcValid()) throw refused(name, "CRC mismatch");
    } catch (const http_error&) {
      throw;
    } catch (const Poco::Exception& e) {
      throw refused(name, "the compressed data is corrupt (" + e.displayText() + ")");
    } catch (const std::exception& e) {
      throw refused(name, std::string("the compressed data is corrupt (") + e.what() + ")");
    }
    ++stats.files;
  }
  return stats;
}

}  // namespace nomad_iis::http
