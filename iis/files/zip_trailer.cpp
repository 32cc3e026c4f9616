#include "iis/files/zip_trailer.hpp"

#include <cstring>

#include "iis/files/file_error.hpp"

namespace nomad_iis::files {
namespace {

/// Central-directory and end-record bytes read, at most.
constexpr std::uint64_t max_metadata = 64ull << 20;
/// A zip64 end record larger than this carries nothing we want.
constexpr std::uint64_t max_zip64_record = 64 << 10;

constexpr char central_sig[] = "PK\1\2";
constexpr char end_sig[] = "PK\5\6";
constexpr char end64_sig[] = "PK\6\6";
constexpr char locator64_sig[] = "PK\6\7";
constexpr std::size_t central_fixed = 46;  ///< a central header before its names
constexpr std::size_t end_fixed = 22;      ///< the end record before its comment
constexpr std::uint16_t zip64_extra_id = 1;
constexpr std::uint8_t host_unix = 3;

file_error malformed(const std::string& why) {
  return bad_request("bad_zip", "malformed zip archive: " + why);
}

std::uint64_t le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

/// Reads the trailer's records one by one, counting what they cost.
class trailer_reader {
 public:
  trailer_reader(byte_reader& in, std::uint64_t max_entries) : in_(in), max_entries_(max_entries) {}

  std::vector<central_entry> read() {
    while (true) {
      char sig[4];
      const auto n = in_.read(sig, 4);
      if (n < 4) throw malformed("no end of central directory record (truncated?)");
      if (std::memcmp(sig, central_sig, 4) == 0) {
        read_central();
      } else if (std::memcmp(sig, end64_sig, 4) == 0) {
        skip_zip64_end();
      } else if (std::memcmp(sig, locator64_sig, 4) == 0) {
        need(16, "truncated zip64 end locator");
      } else if (std::memcmp(sig, end_sig, 4) == 0) {
        read_end();
        return std::move(entries_);
      } else {
        throw malformed("unexpected data after the entries");
      }
    }
  }

 private:
  /// The next `n` bytes of the archive (all of them, or `why`).
  const std::string& need(std::size_t n, const char* why) {
    metadata_ += n;
    if (metadata_ > max_metadata) throw malformed("the central directory is too large");
    buf_.resize(n);
    if (in_.read(buf_.data(), n) != n) throw malformed(why);
    return buf_;
  }

  void read_central() {
    if (entries_.size() >= max_entries_)
      throw malformed("the central directory lists too many entries");
    const std::string fixed = need(central_fixed - 4, "truncated central directory");
    const char* h = fixed.data() - 4;  // offsets below count from the signature
    central_entry e;
    const auto made_by_host = static_cast<std::uint8_t>(h[5]);
    e.encrypted = (le(h + 8, 2) & 1) != 0;
    const auto compressed = le(h + 20, 4);
    e.uncompressed = le(h + 24, 4);
    e.offset = le(h + 42, 4);
    const auto name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
    const auto external = le(h + 38, 4);
    if (made_by_host == host_unix) e.unix_mode = static_cast<std::uint32_t>(external >> 16);
    const std::string& rest =
        need(name_len + extra_len + comment_len, "truncated central directory");
    e.name = rest.substr(0, name_len);
    if (e.uncompressed == 0xffffffff || compressed == 0xffffffff || e.offset == 0xffffffff)
      read_zip64_fields(rest.substr(name_len, extra_len), compressed, e);
    ++count_;
    entries_.push_back(std::move(e));
  }

  /// The sizes and offset too large for their fields, from the zip64 extra
  /// field: each one present only if its field is 0xffffffff, in this order.
  static void read_zip64_fields(const std::string& extra, std::uint64_t compressed,
                                central_entry& e) {
    std::size_t at = 0;
    while (at + 4 <= extra.size()) {
      const auto id = le(extra.data() + at, 2), len = le(extra.data() + at + 2, 2);
      if (at + 4 + len > extra.size()) break;
      if (id == zip64_extra_id) {
        const char* field = extra.data() + at + 4;
        const char* end = field + len;
        for (std::uint64_t* value : {&e.uncompressed, &compressed, &e.offset}) {
          if (*value != 0xffffffff) continue;
          if (end - field < 8) throw malformed("entry \"" + e.name + "\" lacks its zip64 fields");
          *value = le(field, 8);
          field += 8;
        }
        return;
      }
      at += 4 + len;
    }
    throw malformed("entry \"" + e.name + "\" lacks its zip64 fields");
  }

  void skip_zip64_end() {
    const auto size = le(need(8, "truncated zip64 end record").data(), 8);
    if (size > max_zip64_record) throw malformed("the zip64 end record claims an absurd size");
    need(size, "truncated zip64 end record");
  }

  /// The end record must count what the central directory held and be the
  /// last thing in the archive.
  void read_end() {
    const std::string fixed = need(end_fixed - 4, "truncated end of central directory record");
    const char* h = fixed.data() - 4;
    const auto disk = le(h + 4, 2), cd_disk = le(h + 6, 2);
    const auto here = le(h + 8, 2), total = le(h + 10, 2);
    const bool zip64_counts = here == 0xffff || total == 0xffff;
    if (disk != 0 && disk != 0xffff) throw malformed("multi-disk archives are not supported");
    if (cd_disk != 0 && cd_disk != 0xffff) throw malformed("multi-disk archives are not supported");
    if (!zip64_counts && (here != count_ || total != count_))
      throw malformed("the end record lists entries the archive does not hold");
    need(le(h + 20, 2), "truncated end of central directory record");  // the comment
    char extra = 0;
    if (in_.read(&extra, 1) != 0) throw malformed("data after the end of the archive");
  }

  byte_reader& in_;
  std::uint64_t max_entries_;
  std::uint64_t metadata_ = 0;
  std::uint64_t count_ = 0;
  std::string buf_;
  std::vector<central_entry> entries_;
};

}  // namespace

std::vector<central_entry> read_zip_trailer(byte_reader& in, std::uint64_t max_entries) {
  return trailer_reader(in, max_entries).read();
}

}  // namespace nomad_iis::files
