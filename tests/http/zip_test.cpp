#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>

#include <thread>

#include "adapters/http/download.hpp"
#include "adapters/http/growing_file.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/zip_extract.hpp"
#include "common/beneath.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::http;
using namespace nomad_iis::http::test;

namespace {

/// Extracts and expects an http_error with `status` whose message mentions `needle`.
void expect_refused(const std::string& zip, const std::string& dest, int status,
                    const std::string& needle, zip_limits limits = {}) {
  try {
    extract_zip(zip, dest, limits);
  } catch (const http_error& e) {
    BOOST_TEST(e.status() == status);
    BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos, e.what());
    return;
  }
  BOOST_FAIL("archive accepted: " + zip);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(zip_extraction)

BOOST_AUTO_TEST_CASE(extracts_files_dirs_and_exec_bits) {
  temp_dir t;
  make_zip(t / "ok.zip", R"(z.writestr('index.html', '<h1>hi</h1>')
z.writestr('css/site.css', 'body{}')
z.writestr('empty/', '')
i = zipfile.ZipInfo('bin/app'); i.external_attr = (0o100755 << 16); z.writestr(i, '#!/bin/sh\n')
z.writestr('./dot/./x.txt', 'x'))");
  std::filesystem::create_directory(t / "out");
  auto stats = extract_zip(t / "ok.zip", t / "out", {});
  BOOST_TEST(stats.files == 4u);
  BOOST_TEST(read_file(t / "out/index.html") == "<h1>hi</h1>");
  BOOST_TEST(read_file(t / "out/css/site.css") == "body{}");
  BOOST_TEST(std::filesystem::is_directory(t / "out/empty"));
  BOOST_TEST(read_file(t / "out/dot/x.txt") == "x");
  struct stat st {};
  BOOST_REQUIRE(::stat((t / "out/bin/app").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0111) != 0u);
  BOOST_REQUIRE(::stat((t / "out/index.html").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0111) == 0u);
}

BOOST_AUTO_TEST_CASE(empty_archive_extracts_nothing) {
  temp_dir t;
  make_zip(t / "e.zip", "pass");
  BOOST_REQUIRE(read_file(t / "e.zip").size() == 22u);  // only the end record
  std::filesystem::create_directory(t / "out");
  auto stats = extract_zip(t / "e.zip", t / "out", {});
  BOOST_TEST(stats.files == 0u);
  BOOST_TEST(count_entries(t / "out") == 0u);
  // An end record that claims entries, or anything after it, is no empty zip.
  auto end = read_file(t / "e.zip");
  auto claims = end;
  claims[10] = 1;  // total number of entries
  write_file(t / "claims.zip", claims);
  expect_refused(t / "claims.zip", t / "out", 400, "lists entries");
  write_file(t / "trailing.zip", end + "x");
  expect_refused(t / "trailing.zip", t / "out", 400, "after the end");
  write_file(t / "cut.zip", end.substr(0, 12));
  BOOST_CHECK_THROW(extract_zip(t / "cut.zip", t / "out", {}), http_error);
}

BOOST_AUTO_TEST_CASE(zip_bomb_by_ratio) {
  temp_dir t;
  // 64 MiB of zeros deflate to about 64 KiB: a ratio near 1000:1.
  make_zip(t / "ratio.zip",
           "z.writestr('ok.txt', 'fine')\nz.writestr('zeros', b'\\0' * (64 << 20))");
  std::filesystem::create_directory(t / "out");
  expect_refused(t / "ratio.zip", t / "out", 413, "\"zeros\" expands to more than 200 times");
  BOOST_TEST(count_entries(t / "out") == 0u);
  // Below the floor any ratio passes; a limit of 0 turns the check off.
  make_zip(t / "small.zip", "z.writestr('zeros', b'\\0' * (1 << 20))");
  BOOST_TEST(extract_zip(t / "small.zip", t / "out", {}).bytes == 1u << 20);
  std::filesystem::remove(t / "out/zeros");
  BOOST_TEST(extract_zip(t / "ratio.zip", t / "out", {100, 1ull << 30, 0}).bytes ==
             (64u << 20) + 4u);
  // Real content stays well below the default ratio.
  std::filesystem::remove_all(t / "out");
  std::filesystem::create_directory(t / "out");
  make_zip(t / "text.zip",
           "z.writestr('log.txt', ''.join('line %d of the log\\n' % i for i in range(200000)))");
  BOOST_TEST(extract_zip(t / "text.zip", t / "out", {}).files == 1u);
}

BOOST_AUTO_TEST_CASE(zip_slip_is_refused_and_nothing_extracted) {
  for (const char* name :
       {"../x", "a/../../x", "/etc/x", "..", "a/..", "..\\\\x", "C:/x", "a\\\\b"}) {
    temp_dir t;
    make_zip(t / "slip.zip",
             std::string("z.writestr('good.txt', 'g')\nz.writestr('") + name + "', 'evil')");
    std::filesystem::create_directory(t / "out");
    expect_refused(t / "slip.zip", t / "out", 400, "zip entry");
    BOOST_TEST(count_entries(t / "out") == 0u, name);
    BOOST_TEST(!std::filesystem::exists(t / "x"));
  }
}

BOOST_AUTO_TEST_CASE(symlink_entry_is_refused) {
  temp_dir t;
  make_zip(t / "link.zip", R"(z.writestr('a.txt', 'a')
i = zipfile.ZipInfo('link'); i.create_system = 3; i.external_attr = (0o120777 << 16); z.writestr(i, '/etc/passwd'))");
  std::filesystem::create_directory(t / "out");
  expect_refused(t / "link.zip", t / "out", 400, "symlink");
  BOOST_TEST(count_entries(t / "out") == 0u);
}

BOOST_AUTO_TEST_CASE(too_many_entries) {
  temp_dir t;
  make_zip(t / "many.zip", "for i in range(20): z.writestr('f%d' % i, 'x')");
  std::filesystem::create_directory(t / "out");
  expect_refused(t / "many.zip", t / "out", 413, "more than 10 entries", {10, 1 << 20});
  BOOST_TEST(count_entries(t / "out") == 0u);
}

BOOST_AUTO_TEST_CASE(zip_bomb_by_declared_size) {
  temp_dir t;
  make_zip(t / "bomb.zip", "z.writestr('zeros', b'\\0' * (8 << 20))");
  std::filesystem::create_directory(t / "out");
  expect_refused(t / "bomb.zip", t / "out", 413, "expands to more than", {100, 1 << 20});
  BOOST_TEST(count_entries(t / "out") == 0u);
}

BOOST_AUTO_TEST_CASE(zip_bomb_lying_about_its_size) {
  temp_dir t;
  // Declares 1 KiB in both headers, inflates to 4 MiB.
  make_zip(t / "liar.zip", R"(
import zlib, struct, binascii
data = b'\0' * (4 << 20)
comp = zlib.compressobj(9, zlib.DEFLATED, -15)
c = comp.compress(data) + comp.flush()
crc = binascii.crc32(data) & 0xffffffff
name = b'zeros'
lie = 1024
local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 8, 0, 0, crc, len(c), lie, len(name), 0) + name + c
central = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, 8, 0, 0, crc, len(c), lie, len(name), 0, 0, 0, 0, 0, 0) + name
end = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 1, 1, len(central), len(local), 0)
open(zip_path, 'wb').write(local + central + end))",
           true);
  std::filesystem::create_directory(t / "out");
  expect_refused(t / "liar.zip", t / "out", 400, "zeros");
}

BOOST_AUTO_TEST_CASE(malformed_archives) {
  temp_dir t;
  std::filesystem::create_directory(t / "out");
  write_file(t / "junk.zip", std::string(1000, 'x'));
  BOOST_CHECK_THROW(extract_zip(t / "junk.zip", t / "out", {}), http_error);
  // A valid archive cut in half.
  make_zip(t / "full.zip", "for i in range(50): z.writestr('f%d' % i, str(i) * 1000)");
  auto full = read_file(t / "full.zip");
  write_file(t / "cut.zip", full.substr(0, full.size() / 2));
  BOOST_CHECK_THROW(extract_zip(t / "cut.zip", t / "out", {}), http_error);
  // Corrupt compressed data (CRC/inflate failure).
  make_zip(t / "c.zip", "z.writestr('a.txt', 'hello world ' * 1000)");
  auto c = read_file(t / "c.zip");
  c[60] = static_cast<char>(c[60] ^ 0x55);
  c[70] = static_cast<char>(c[70] ^ 0x55);
  write_file(t / "corrupt.zip", c);
  BOOST_CHECK_THROW(extract_zip(t / "corrupt.zip", t / "out", {}), http_error);
  write_file(t / "empty.zip", "");
  BOOST_CHECK_THROW(extract_zip(t / "empty.zip", t / "out", {}), http_error);
}

/// A python3 script that writes `zip_path` from entries given as
/// entry(name, data, ...) calls; each may lie about its CRC or compressed
/// size, be stored instead of deflated, or be streamed (data descriptor).
std::string handmade_zip(const std::string& entries) {
  return R"(
import zlib, struct, binascii
parts, central = [], []
def entry(name, data, crc=None, size_delta=0, cut=0, stored=False, streamed=False, descriptor_crc=None):
    name = name.encode()
    if stored:
        c = data
    else:
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        c = comp.compress(data) + comp.flush()
    c = c[:len(c) - cut]
    real = binascii.crc32(data) & 0xffffffff
    crc = real if crc is None else crc
    method = 0 if stored else 8
    flags = 8 if streamed else 0
    offset = sum(len(p) for p in parts)
    csize = len(c) + size_delta
    if streamed:
        local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, flags, method, 0, 0, 0, 0, 0, len(name), 0) + name + c
        dcrc = crc if descriptor_crc is None else descriptor_crc
        local += struct.pack('<IIII', 0x08074b50, dcrc, len(c), len(data))
    else:
        local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, flags, method, 0, 0, crc, csize, len(data), len(name), 0) + name + c
    parts.append(local)
    central.append(struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, flags, method, 0, 0, crc, csize, len(data), len(name), 0, 0, 0, 0, 0, offset) + name)
)" + entries +
         R"(
cd = b''.join(central)
body = b''.join(parts)
end = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(central), len(central), len(cd), len(body), 0)
open(zip_path, 'wb').write(body + cd + end))";
}

BOOST_AUTO_TEST_CASE(inflated_entries_are_checked_exactly) {
  temp_dir t;
  std::filesystem::create_directory(t / "out");
  const std::string text = "entry('first', b'x' * 5000)\n";
  struct bad {
    const char* name;
    std::string entries;
    const char* needle;
  } cases[] = {
      {"crc", "entry('a.txt', b'hello ' * 500, crc=1234)", "CRC mismatch"},
      {"streamed_crc", "entry('a.txt', b'hello ' * 500, streamed=True, descriptor_crc=99)",
       "CRC mismatch"},
      {"stored_crc", "entry('a.txt', b'hello', stored=True, crc=7)", "CRC mismatch"},
      {"longer_than_the_stream", "entry('a.txt', b'hello ' * 500, size_delta=3)",
       "compressed size does not match"},
      {"shorter_than_the_stream", "entry('a.txt', b'hello ' * 500, size_delta=-4)", "a.txt"},
      {"cut_stream", "entry('a.txt', bytes(range(256)) * 40, cut=7, size_delta=0)", "a.txt"},
      {"streamed_cut", "entry('a.txt', bytes(range(256)) * 40, cut=7, streamed=True)", "a.txt"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      make_zip(t / "bad.zip", handmade_zip(text + c.entries), true);
      expect_refused(t / "bad.zip", t / "out", 400, c.needle);
      BOOST_TEST(count_entries(t / "out") == 0u);
    }
  }
  // Good ones of every kind in one archive, streamed ones between others.
  make_zip(t / "good.zip", handmade_zip(text + R"(
entry('s1', bytes(range(256)) * 4000, streamed=True)
entry('plain', b'stored bytes', stored=True)
entry('s2', b'', streamed=True)
entry('big', bytes(range(256)) * 20000)
entry('s3', b'tail ' * 3, streamed=True)
entry('s4', b'stored and streamed', stored=True, streamed=True))"),
           true);
  // 'big' repeats 256 bytes: it deflates far better than zip_max_ratio allows.
  auto stats = extract_zip(t / "good.zip", t / "out", {100000, 8ull << 30, 0});
  BOOST_TEST(stats.files == 7u);
  BOOST_TEST(read_file(t / "out/first") == std::string(5000, 'x'));
  std::string ramp;
  for (int i = 0; i < 256; ++i) ramp += static_cast<char>(i);
  std::string s1, big;
  for (int i = 0; i < 4000; ++i) s1 += ramp;
  for (int i = 0; i < 20000; ++i) big += ramp;
  BOOST_TEST(read_file(t / "out/s1") == s1);
  BOOST_TEST(read_file(t / "out/plain") == "stored bytes");
  BOOST_TEST(read_file(t / "out/s2").empty());
  BOOST_TEST(read_file(t / "out/big") == big);
  BOOST_TEST(read_file(t / "out/s3") == "tail tail tail ");
  BOOST_TEST(read_file(t / "out/s4") == "stored and streamed");
}

BOOST_AUTO_TEST_CASE(duplicate_and_conflicting_entries) {
  temp_dir t;
  std::filesystem::create_directory(t / "out");
  make_zip(t / "dup.zip",
           "import warnings; warnings.simplefilter('ignore')\nz.writestr('a', "
           "'1')\nz.writestr('a', '2')");
  expect_refused(t / "dup.zip", t / "out", 400, "twice");
  temp_dir t2;
  std::filesystem::create_directory(t2 / "out");
  make_zip(t2 / "conf.zip", "z.writestr('a', '1')\nz.writestr('a/b', '2')");
  expect_refused(t2 / "conf.zip", t2 / "out", 400, "zip entry");
}

BOOST_AUTO_TEST_CASE(zip64_end_record_with_absurd_size_is_refused) {
  // Found by fuzzing: Poco's Zip64 end-record parser allocates the size the
  // record claims. Our trailer check refuses it before Poco parses it.
  temp_dir t;
  make_zip(t / "z64.zip", R"(
import struct, zipfile, io
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w') as z:
    z.writestr('a.txt', 'hello')
data = buf.getvalue()
eocd = data.rfind(b'PK\x05\x06')
rec = b'PK\x06\x06' + struct.pack('<Q', 0x7fffffffffff) + b'\0' * 44
open(zip_path, 'wb').write(data[:eocd] + rec + data[eocd:]))",
           true);
  std::filesystem::create_directory(t / "out");
  expect_refused(t / "z64.zip", t / "out", 400, "zip64");
  BOOST_TEST(count_entries(t / "out") == 0u);
  // Trailing bytes after the end record are refused too (Poco would scan them).
  auto bytes = read_file(t / "z64.zip");
  make_zip(t / "ok.zip", "z.writestr('a.txt', 'hello')");
  write_file(t / "tail.zip", read_file(t / "ok.zip") + "PK\x06\x06garbage");
  expect_refused(t / "tail.zip", t / "out", 400, "after the end");
}

BOOST_AUTO_TEST_CASE(round_trip_of_our_own_streamed_zip) {
  // Folder downloads are written without seeking (data descriptors); the
  // upload side must read them back.
  temp_dir t;
  write_file(t / "src/a.txt", std::string(100000, 'a'));
  write_file(t / "src/sub/b.bin", std::string("\0\1\2", 3));
  write_file(t / "src/sub/deeper/c.txt", "");
  std::filesystem::create_directories(t / "src/emptydir");
  BOOST_REQUIRE(::symlink("/etc/passwd", (t / "src/link").c_str()) == 0);
  {
    std::ofstream out(t / "src.zip", std::ios::binary);
    const auto src = nomad_iis::open_directory(t / "src");
    write_folder_zip(src.get(), nullptr, out);
  }
  std::filesystem::create_directory(t / "out");
  auto stats = extract_zip(t / "src.zip", t / "out", {});
  BOOST_TEST(stats.files == 3u);
  BOOST_TEST(read_file(t / "out/a.txt") == std::string(100000, 'a'));
  BOOST_TEST(read_file(t / "out/sub/b.bin") == std::string("\0\1\2", 3));
  BOOST_TEST(std::filesystem::exists(t / "out/sub/deeper/c.txt"));
  BOOST_TEST(std::filesystem::is_directory(t / "out/emptydir"));
  BOOST_TEST(!std::filesystem::exists(t / "out/link"));  // links are skipped
}

BOOST_AUTO_TEST_CASE(extracts_from_a_growing_file) {
  temp_dir t;
  make_zip(t / "g.zip",
           "for i in range(200): z.writestr('d%d/f%d.txt' % (i % 7, i), str(i) * 5000)");
  auto bytes = read_file(t / "g.zip");
  int fd = ::open((t / "copy.zip").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  BOOST_REQUIRE(fd >= 0);
  growing_file progress;
  std::thread writer([&] {
    for (std::size_t off = 0; off < bytes.size(); off += 777) {
      auto n = std::min<std::size_t>(777, bytes.size() - off);
      BOOST_REQUIRE(::write(fd, bytes.data() + off, n) == static_cast<ssize_t>(n));
      progress.add(n);
      if (off % 50000 < 777) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    progress.finish();
  });
  std::filesystem::create_directory(t / "out");
  growing_file_buf buf(fd, progress, 4096);
  std::istream in(&buf);
  auto stats = extract_zip_stream(in, t / "out", {});
  writer.join();
  ::close(fd);
  BOOST_TEST(stats.files == 200u);
  BOOST_TEST(read_file(t / "out/d3/f199.txt") == [] {
    std::string s;
    for (int i = 0; i < 5000; ++i) s += "199";
    return s;
  }());
}

BOOST_AUTO_TEST_CASE(truncated_growing_file_is_refused_and_cleaned) {
  temp_dir t;
  make_zip(t / "g.zip", "for i in range(50): z.writestr('f%d.txt' % i, str(i) * 5000)");
  auto bytes = read_file(t / "g.zip");
  write_file(t / "half.zip", bytes.substr(0, bytes.size() * 2 / 3));
  std::filesystem::create_directory(t / "out");
  BOOST_CHECK_THROW(extract_zip(t / "half.zip", t / "out", {}), http_error);
  BOOST_TEST(count_entries(t / "out") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
