#include "adapters/http/zip_extract.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Zip/ParseCallback.h>
#include <Poco/Zip/SkipCallback.h>
#include <Poco/Zip/ZipArchive.h>
#include <Poco/Zip/ZipArchiveInfo.h>
#include <Poco/Zip/ZipDataInfo.h>
#include <Poco/Zip/ZipFileInfo.h>
#include <Poco/Zip/ZipLocalFileHeader.h>
#include <Poco/Zip/ZipStream.h>
#include <Poco/Zip/ZipUtil.h>
#include <zlib.h>

#include "adapters/http/http_error.hpp"
#include "common/beneath.hpp"
#include "common/unique_fd.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::size_t io_buffer = 1 << 20;
/// Compressed bytes handed to zlib at a time.
constexpr std::size_t compressed_buffer = 256 << 10;

http_error refused(const std::string& entry, const std::string& why) {
  return bad_request("bad_zip_entry", "zip entry \"" + entry + "\": " + why);
}

http_error malformed(const std::string& why) {
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

/// A raw-deflate zlib stream, reset for each entry.
class raw_inflater {
 public:
  raw_inflater() {
    if (::inflateInit2(&zs_, -MAX_WBITS) != Z_OK) throw std::bad_alloc();
  }
  ~raw_inflater() { ::inflateEnd(&zs_); }
  raw_inflater(const raw_inflater&) = delete;
  raw_inflater& operator=(const raw_inflater&) = delete;
  /// Ready for a new entry, with no input left from the last one.
  z_stream& reset() {
    ::inflateReset(&zs_);
    zs_.next_in = Z_NULL;
    zs_.avail_in = 0;
    return zs_;
  }

 private:
  z_stream zs_{};
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

namespace {

/// Extracts each entry as ZipArchive's parser reaches its local header.
class extracting_callback : public Poco::Zip::ParseCallback {
 public:
  extracting_callback(int dest_fd, const zip_limits& limits, zip_stats& stats)
      : dest_fd_(dest_fd), limits_(limits), stats_(stats) {}

  bool handleZipEntry(std::istream& in, const Poco::Zip::ZipLocalFileHeader& hdr) override {
    const auto& name = hdr.getFileName();
    if (++count_ > limits_.max_entries)
      throw http_error(
          413, "zip_too_many_entries",
          "the zip archive has more than " + std::to_string(limits_.max_entries) + " entries");
    // ZipArchive keeps every header it parsed: bound what they may hold.
    metadata_ += static_cast<std::uint64_t>(hdr.getDataStartPos() - hdr.getStartPos());
    if (metadata_ > max_metadata) throw malformed("the entries' headers are too large");
    if (extracted_.count(name)) throw refused(name, "the name appears twice in the archive");
    auto clean = checked_entry_name(name);
    if (hdr.isEncrypted()) throw refused(name, "encrypted entries are not supported");
    if (hdr.isDirectory()) {
      make_dirs(dest_fd_, clean, name);
      extracted_[name] = 0;
      ++stats_.directories;
      // Some zippers give folders a deflated empty body: step over it.
      Poco::Zip::SkipCallback().handleZipEntry(in, hdr);
      return next_record(in, 0);
    }
    auto method = hdr.getCompressionMethod();
    if (method != Poco::Zip::ZipCommon::CM_STORE && method != Poco::Zip::ZipCommon::CM_DEFLATE)
      throw refused(name, "unsupported compression method " + std::to_string(method));
    if (!hdr.searchCRCAndSizesAfterData() &&
        hdr.getUncompressedSize() > limits_.max_uncompressed_bytes - stats_.bytes)
      throw too_large();
    auto slash = clean.rfind('/');
    const unique_fd dir = make_dirs(
        dest_fd_, slash == std::string::npos ? std::string() : clean.substr(0, slash), name);
    const std::string base = slash == std::string::npos ? clean : clean.substr(slash + 1);
    const unique_fd out(::openat(dir.get(), base.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!out) throw refused(name, std::string("cannot be written: ") + std::strerror(errno));
    const bool streamed = hdr.searchCRCAndSizesAfterData();
    std::uint64_t written = 0;
    std::uint32_t crc = 0;  // crc32(0, Z_NULL, 0): zlib's initial value
    try {
      if (!buf_) buf_.reset(new char[io_buffer]);
      auto sink = [&](const char* data, std::size_t n) {
        crc = static_cast<std::uint32_t>(
            ::crc32(crc, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(n)));
        written += n;
        stats_.bytes += n;
        if (stats_.bytes > limits_.max_uncompressed_bytes) throw too_large();
        if (!streamed && written > hdr.getUncompressedSize())
          throw refused(name, "inflates beyond its declared size");
        write_all(out.get(), data, n, name);
      };
      if (method == Poco::Zip::ZipCommon::CM_DEFLATE)
        inflate_entry(in, hdr, sink);
      else
        copy_stored_entry(in, hdr, sink);
    } catch (const http_error&) {
      throw;
    } catch (const Poco::Exception& e) {
      throw refused(name, "the compressed data is corrupt (" + e.displayText() + ")");
    } catch (const std::exception& e) {
      throw refused(name, std::string("the compressed data is corrupt (") + e.what() + ")");
    }
    if (!streamed && crc != hdr.getCRC()) throw refused(name, "CRC mismatch");
    if (!streamed && written != hdr.getUncompressedSize())
      throw refused(name, "the data is shorter than declared");
    extracted_[name] = written;
    ++stats_.files;
    return next_record(in, streamed ? descriptor_size(in, hdr, written, crc) : 0);
  }

  /// Before Poco's parser may reach any record but a local header, the
  /// trailing records are read here with bounds Poco lacks: its Zip64
  /// end-of-central-directory parser allocates whatever size the record
  /// claims (found by fuzzing), and a central directory could be huge.
  /// `skip` is the size of the data descriptor Poco reads after this call.
  /// The trailer is checked here, then parsed by Poco too (safely now).
  bool next_record(std::istream& in, std::streamoff skip) {
    const auto here = in.tellg();
    in.seekg(here + skip);
    if (peek_signature(in) != std::string(Poco::Zip::ZipLocalFileHeader::HEADER, 4))
      read_trailer(in);
    in.clear();
    in.seekg(here);
    return true;
  }

  /// After the parse: the central directory must list exactly what was
  /// extracted, with the same sizes, and no symlink entry.
  void verify() {
    if (count_ == 0) throw malformed("no entries found (empty or not a zip archive)");
    if (!saw_end_) throw malformed("no end of central directory record (truncated?)");
    std::uint64_t infos = 0;
    for (const auto& info : infos_) {
      const auto& name = info.getFileName();
      ++infos;
      auto found = extracted_.find(name);
      if (found == extracted_.end())
        throw refused(name, "listed in the central directory but has no local header");
      const auto mode = unix_mode(info);
      if ((mode & S_IFMT) == S_IFLNK) throw refused(name, "symlink entries are not allowed");
      if (info.isEncrypted()) throw refused(name, "encrypted entries are not supported");
      if (!info.isDirectory() && info.getUncompressedSize() != found->second)
        throw refused(name, "the central directory and the data disagree on its size");
      if (!info.isDirectory() && (mode & 0100) != 0) make_executable(checked_entry_name(name));
    }
    if (infos != count_)
      throw malformed("the central directory lists " + std::to_string(infos) +
                      " entries, the archive holds " + std::to_string(count_) + " (truncated?)");
  }

 private:
  /// Inflates the entry's raw deflate data from `in` into `sink` with zlib
  /// (Poco's stream would add a zlib header and an Adler-32 pass, and
  /// inflate 1 KiB at a time); leaves `in` just after the compressed data.
  template <class Sink>
  void inflate_entry(std::istream& in, const Poco::Zip::ZipLocalFileHeader& hdr, Sink& sink) {
    const auto& name = hdr.getFileName();
    const bool streamed = hdr.searchCRCAndSizesAfterData();
    // Streamed entries end where the deflate stream says; the bytes read
    // beyond it belong to the data descriptor and are read again.
    std::uint64_t unread = streamed ? std::numeric_limits<std::uint64_t>::max()
                                    : static_cast<std::uint64_t>(hdr.getCompressedSize());
    if (!inflater_) inflater_ = std::make_unique<raw_inflater>();
    if (!compressed_) compressed_.reset(new char[compressed_buffer]);
    z_stream& zs = inflater_->reset();
    in.seekg(hdr.getDataStartPos());  // where Poco's parser left it; cheap inside the buffer
    int status = Z_OK;
    while (status != Z_STREAM_END) {
      if (zs.avail_in == 0) {
        const auto want = std::min<std::uint64_t>(unread, compressed_buffer);
        if (want > 0) in.read(compressed_.get(), static_cast<std::streamsize>(want));
        const auto got = want > 0 ? in.gcount() : 0;
        if (got <= 0) throw refused(name, "the compressed data ends early");
        if (!streamed) unread -= static_cast<std::uint64_t>(got);
        zs.next_in = reinterpret_cast<Bytef*>(compressed_.get());
        zs.avail_in = static_cast<uInt>(got);
      }
      zs.next_out = reinterpret_cast<Bytef*>(buf_.get());
      zs.avail_out = static_cast<uInt>(io_buffer);
      // With input and output space, inflate either progresses or fails.
      status = ::inflate(&zs, Z_NO_FLUSH);
      if (status != Z_OK && status != Z_STREAM_END)
        throw refused(name, std::string("the compressed data is corrupt") +
                                (zs.msg ? std::string(" (") + zs.msg + ")" : std::string()));
      check_ratio(name, zs.total_out, zs.total_in);
      const std::size_t produced = io_buffer - zs.avail_out;
      if (produced > 0) sink(buf_.get(), produced);
    }
    if (!streamed && (zs.avail_in != 0 || unread != 0))
      throw refused(name, "its compressed size does not match its data");
    if (streamed) {
      in.clear();
      in.seekg(static_cast<std::streamoff>(hdr.getDataStartPos()) +
               static_cast<std::streamoff>(zs.total_in));
    }
  }

  /// Copies a stored entry into `sink`. A streamed one goes through Poco's
  /// zip stream, which finds where it ends.
  template <class Sink>
  void copy_stored_entry(std::istream& in, const Poco::Zip::ZipLocalFileHeader& hdr, Sink& sink) {
    const auto& name = hdr.getFileName();
    if (hdr.searchCRCAndSizesAfterData()) {
      Poco::Zip::ZipInputStream zin(in, hdr, false);
      while (zin.read(buf_.get(), static_cast<std::streamsize>(io_buffer)), zin.gcount() > 0)
        sink(buf_.get(), static_cast<std::size_t>(zin.gcount()));
      if (zin.bad()) throw refused(name, "the data is corrupt");
      return;
    }
    if (hdr.getCompressedSize() != hdr.getUncompressedSize())
      throw refused(name, "a stored entry's sizes disagree");
    in.seekg(hdr.getDataStartPos());
    auto left = static_cast<std::uint64_t>(hdr.getCompressedSize());
    while (left > 0) {
      in.read(buf_.get(), static_cast<std::streamsize>(std::min<std::uint64_t>(left, io_buffer)));
      const auto got = in.gcount();
      if (got <= 0) throw refused(name, "the data ends early");
      left -= static_cast<std::uint64_t>(got);
      sink(buf_.get(), static_cast<std::size_t>(got));
    }
  }

  /// Gives an extracted file mode 0755, opened below the destination
  /// without following any symlink.
  void make_executable(const std::string& clean) const {
    const unique_fd fd = open_beneath(dest_fd_, clean, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd) ::fchmod(fd.get(), 0755);
  }

  /// A zip bomb by ratio: `out` bytes inflated from `in` compressed ones.
  void check_ratio(const std::string& name, std::uint64_t out, std::uint64_t in) const {
    if (limits_.max_ratio == 0 || out <= ratio_floor || out / limits_.max_ratio <= in) return;
    throw http_error(413, "zip_ratio_too_high",
                     "zip entry \"" + name + "\" expands to more than " +
                         std::to_string(limits_.max_ratio) +
                         " times its compressed size (zip_max_ratio)");
  }

  http_error too_large() const {
    return http_error(413, "zip_too_large",
                      "the zip archive expands to more than " +
                          std::to_string(limits_.max_uncompressed_bytes) + " bytes");
  }

  /// The size of the descriptor that follows streamed data (crc and sizes,
  /// 32- or 64-bit, with or without a signature): the layout whose sizes
  /// match what was actually read. Its CRC must match `crc`.
  static std::streamoff descriptor_size(std::istream& in, const Poco::Zip::ZipLocalFileHeader& hdr,
                                        std::uint64_t written, std::uint32_t crc) {
    auto pos = in.tellg();
    const auto compressed = static_cast<std::uint64_t>(pos - std::streampos(hdr.getDataStartPos()));
    char raw[24] = {};
    in.read(raw, sizeof raw);
    const auto n = static_cast<std::size_t>(in.gcount());
    in.clear();
    const std::size_t off =
        n >= 4 && std::memcmp(raw, Poco::Zip::ZipDataInfo::HEADER, 4) == 0 ? 4 : 0;
    std::streamoff skip = -1;
    if (n >= off + 12 && Poco::Zip::ZipUtil::get32BitValue(raw, off + 4) == compressed &&
        Poco::Zip::ZipUtil::get32BitValue(raw, off + 8) == written)
      skip = static_cast<std::streamoff>(off + 12);
    else if (n >= off + 20 && Poco::Zip::ZipUtil::get64BitValue(raw, off + 4) == compressed &&
             Poco::Zip::ZipUtil::get64BitValue(raw, off + 12) == written)
      skip = static_cast<std::streamoff>(off + 20);
    if (skip < 0) throw refused(hdr.getFileName(), "its data descriptor does not match the data");
    if (Poco::Zip::ZipUtil::get32BitValue(raw, off) != crc)
      throw refused(hdr.getFileName(), "CRC mismatch");
    in.seekg(pos);
    return skip;
  }

  static std::string peek_signature(std::istream& in) {
    char sig[4] = {0, 0, 0, 0};
    auto pos = in.tellg();
    in.read(sig, 4);
    auto n = in.gcount();
    in.clear();
    in.seekg(pos);
    return std::string(sig, static_cast<std::size_t>(n));
  }

  void read_trailer(std::istream& in) {
    const std::string central(Poco::Zip::ZipFileInfo::HEADER, 4);
    const std::string end(Poco::Zip::ZipArchiveInfo::HEADER, 4);
    const std::string end64(Poco::Zip::ZipArchiveInfo64::HEADER, 4);
    const std::string locator64(Poco::Zip::ZipArchiveInfo64::LOCATOR_HEADER, 4);
    while (true) {
      auto sig = peek_signature(in);
      if (sig.size() < 4) return;  // EOF: verify() reports the missing end record
      auto start = in.tellg();
      if (sig == central) {
        if (infos_.size() >= limits_.max_entries)
          throw malformed("the central directory lists too many entries");
        in.seekg(4, std::ios::cur);
        infos_.emplace_back(in, true);
      } else if (sig == end) {
        in.seekg(4, std::ios::cur);
        Poco::Zip::ZipArchiveInfo info(in, true);
        saw_end_ = true;
        // Nothing may follow: Poco would scan it for more records.
        if (!peek_signature(in).empty()) throw malformed("data after the end of the archive");
        return;
      } else if (sig == end64) {
        char raw[12];
        in.read(raw, sizeof raw);
        if (in.gcount() != static_cast<std::streamsize>(sizeof raw))
          throw malformed("truncated zip64 end record");
        if (Poco::Zip::ZipUtil::get64BitValue(raw, 4) > max_zip64_record)
          throw malformed("the zip64 end record claims an absurd size");
        in.seekg(start + std::streamoff(4));
        Poco::Zip::ZipArchiveInfo64 info(in, true);
      } else if (sig == locator64) {
        in.seekg(20, std::ios::cur);
      } else {
        throw malformed("unexpected data after the entries");
      }
      if (!in.good()) throw malformed("truncated central directory");
      metadata_ += static_cast<std::uint64_t>(in.tellg() - start);
      if (metadata_ > max_metadata) throw malformed("the central directory is too large");
    }
  }

  /// Header and central-directory bytes held in memory, at most.
  static constexpr std::uint64_t max_metadata = 64ull << 20;
  /// A zip64 end record larger than this carries nothing we want.
  static constexpr std::uint64_t max_zip64_record = 64 << 10;

  std::vector<Poco::Zip::ZipFileInfo> infos_;
  std::uint64_t metadata_ = 0;
  bool saw_end_ = false;
  int dest_fd_;
  const zip_limits& limits_;
  zip_stats& stats_;
  std::unique_ptr<char[]> buf_;         ///< allocated (not zeroed) at the first file
  std::unique_ptr<char[]> compressed_;  ///< likewise, at the first deflated file
  std::unique_ptr<raw_inflater> inflater_;
  std::uint64_t count_ = 0;
  std::map<std::string, std::uint64_t> extracted_;  ///< name -> bytes
};

/// An archive of no entries is only its end record (22 bytes and a
/// comment): it must say so and hold nothing else.
void read_empty_archive(std::istream& in) {
  in.seekg(4);
  Poco::Zip::ZipArchiveInfo end(in, true);
  if (!in.good()) throw malformed("truncated end of central directory record");
  if (end.getTotalNumberOfEntries() != 0 || end.getNumberOfEntries() != 0 ||
      end.getCentralDirectorySize() != 0 || end.getDiskNumber() != 0)
    throw malformed("the end record lists entries the archive does not hold");
  char extra = 0;
  if (in.read(&extra, 1).gcount() != 0) throw malformed("data after the end of the archive");
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

}  // namespace

zip_stats extract_zip_stream(std::istream& in, int dest_fd, const zip_limits& limits) {
  zip_stats stats;
  extracting_callback extractor(dest_fd, limits, stats);
  try {
    try {
      char first[4] = {0, 0, 0, 0};
      in.read(first, 4);
      if (in.gcount() == 4 && std::memcmp(first, Poco::Zip::ZipArchiveInfo::HEADER, 4) == 0) {
        read_empty_archive(in);
        return stats;
      }
      if (in.gcount() != 4 || std::memcmp(first, Poco::Zip::ZipLocalFileHeader::HEADER, 4) != 0)
        throw malformed("no entries found (empty or not a zip archive)");
      in.seekg(0);
      Poco::Zip::ZipArchive archive(in, extractor);
      extractor.verify();
    } catch (const http_error&) {
      throw;
    } catch (const Poco::Exception& e) {
      throw malformed(e.displayText());
    } catch (const std::exception& e) {
      throw malformed(e.what());
    }
  } catch (...) {
    clear_dir(dest_fd);
    throw;
  }
  return stats;
}

zip_stats extract_zip_stream(std::istream& in, const std::string& dest, const zip_limits& limits) {
  const unique_fd dir = open_directory(dest);
  if (!dir) throw http_error(500, "internal", "the destination cannot be opened");
  return extract_zip_stream(in, dir.get(), limits);
}

zip_stats extract_zip(const std::string& zip_path, const std::string& dest,
                      const zip_limits& limits) {
  std::vector<char> in_buf(io_buffer);
  std::ifstream in;
  in.rdbuf()->pubsetbuf(in_buf.data(), static_cast<std::streamsize>(in_buf.size()));
  in.open(zip_path, std::ios::binary);
  if (!in) throw http_error(500, "internal", "the archive cannot be read");
  return extract_zip_stream(in, dest, limits);
}

}  // namespace nomad_iis::http
