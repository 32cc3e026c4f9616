// iis/files/zip_extractor: the guards of an upload's extraction, each
// archive fed in 1-byte, 7-byte, 64 KiB and whole-body chunks (ported from
// tests/http/zip_test.cpp, every assertion kept, plus CRC, symlinks made by
// zip -y, size lies and abandoned extractions).

#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/files/zip_test_util.hpp"

using namespace nomad_iis;
using namespace nomad_iis::files;
using namespace nomad_iis::files::test;

namespace {

/// A python3 script that writes `zip_path` from entries given as
/// entry(name, data, ...) calls; each may lie about its CRC or compressed
/// size, be stored instead of deflated, or be streamed (data descriptor);
/// `central_size` makes the central directory lie about the size.
std::string handmade_zip(const std::string& entries) {
  return R"(
import zlib, struct, binascii
parts, central = [], []
def entry(name, data, crc=None, size_delta=0, cut=0, stored=False, streamed=False, descriptor_crc=None, central_size=None):
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
    usize = len(data) if central_size is None else central_size
    central.append(struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, flags, method, 0, 0, crc, csize, usize, len(name), 0, 0, 0, 0, 0, offset) + name)
)" + entries +
         R"(
cd = b''.join(central)
body = b''.join(parts)
end = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(central), len(central), len(cd), len(body), 0)
open(zip_path, 'wb').write(body + cd + end))";
}

std::string repeated(const std::string& s, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += s;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(zip_extraction)

BOOST_AUTO_TEST_CASE(extracts_files_dirs_and_exec_bits) {
  temp_dir t;
  make_zip(t / "ok.zip", R"(z.writestr('index.html', '<h1>hi</h1>')
z.writestr('css/site.css', 'body{}')
z.writestr('empty/', '')
i = zipfile.ZipInfo('bin/app'); i.external_attr = (0o100755 << 16); z.writestr(i, '#!/bin/sh\n')
z.writestr('./dot/./x.txt', 'x')
z.writestr('caf\u00e9/\u00fcber.txt', 'utf-8 names'))");
  extract_each_way(t / "ok.zip", t / "out", {}, [&](const zip_stats& stats) {
    BOOST_TEST(stats.files == 5u);
    BOOST_TEST(stats.directories == 1u);
    BOOST_TEST(read_file(t / "out/index.html") == "<h1>hi</h1>");
    BOOST_TEST(read_file(t / "out/css/site.css") == "body{}");
    BOOST_TEST(std::filesystem::is_directory(t / "out/empty"));
    BOOST_TEST(read_file(t / "out/dot/x.txt") == "x");
    BOOST_TEST(read_file(t / "out/caf\xc3\xa9/\xc3\xbc"
                             "ber.txt") == "utf-8 names");
    struct stat st {};
    BOOST_REQUIRE(::stat((t / "out/bin/app").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0111) != 0u);
    BOOST_REQUIRE(::stat((t / "out/index.html").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0111) == 0u);
  });
}

BOOST_AUTO_TEST_CASE(empty_archive_extracts_nothing) {
  temp_dir t;
  make_zip(t / "e.zip", "pass");
  BOOST_REQUIRE(read_file(t / "e.zip").size() == 22u);  // only the end record
  extract_each_way(t / "e.zip", t / "out", {}, [&](const zip_stats& stats) {
    BOOST_TEST(stats.files == 0u);
    BOOST_TEST(count_entries(t / "out") == 0u);
  });
  // An end record that claims entries, or anything after it, is no empty zip.
  auto end = read_file(t / "e.zip");
  auto claims = end;
  claims[10] = 1;  // total number of entries
  write_file(t / "claims.zip", claims);
  expect_refused(t / "claims.zip", t / "out", file_errc::bad_request, "lists entries");
  write_file(t / "trailing.zip", end + "x");
  expect_refused(t / "trailing.zip", t / "out", file_errc::bad_request, "after the end");
  write_file(t / "cut.zip", end.substr(0, 12));
  expect_refused(t / "cut.zip", t / "out", file_errc::bad_request, "malformed zip archive");
}

BOOST_AUTO_TEST_CASE(zip_bomb_by_ratio) {
  temp_dir t;
  // 64 MiB of zeros deflate to about 64 KiB: a ratio near 1000:1.
  make_zip(t / "ratio.zip",
           "z.writestr('ok.txt', 'fine')\nz.writestr('zeros', b'\\0' * (64 << 20))");
  expect_refused(t / "ratio.zip", t / "out", file_errc::too_large,
                 "\"zeros\" expands to more than 200 times");
  // Below the floor any ratio passes; a limit of 0 turns the check off.
  make_zip(t / "small.zip", "z.writestr('zeros', b'\\0' * (1 << 20))");
  extract_each_way(t / "small.zip", t / "out", {},
                   [&](const zip_stats& stats) { BOOST_TEST(stats.bytes == 1u << 20); });
  extract_each_way(t / "ratio.zip", t / "out", {100, 1ull << 30, 0},
                   [&](const zip_stats& stats) { BOOST_TEST(stats.bytes == (64u << 20) + 4u); });
  // Real content stays well below the default ratio.
  make_zip(t / "text.zip",
           "z.writestr('log.txt', ''.join('line %d of the log\\n' % i for i in range(200000)))");
  extract_each_way(t / "text.zip", t / "out", {},
                   [&](const zip_stats& stats) { BOOST_TEST(stats.files == 1u); });
}

BOOST_AUTO_TEST_CASE(zip_slip_is_refused_and_nothing_extracted) {
  for (const char* name : {"../x", "a/../../x", "/etc/x", "..", "a/..", "..\\\\x", "C:/x", "a\\\\b",
                           "a/.nomad-iis-staging-1/x", "tab\\tname"}) {
    BOOST_TEST_CONTEXT(name) {
      temp_dir t;
      make_zip(t / "slip.zip",
               std::string("z.writestr('good.txt', 'g')\nz.writestr('") + name + "', 'evil')");
      expect_refused(t / "slip.zip", t / "out", file_errc::bad_request, "zip entry");
      BOOST_TEST(!std::filesystem::exists(t / "x"));
    }
  }
}

BOOST_AUTO_TEST_CASE(symlink_entry_is_refused) {
  temp_dir t;
  make_zip(t / "link.zip", R"(z.writestr('a.txt', 'a')
i = zipfile.ZipInfo('link'); i.create_system = 3; i.external_attr = (0o120777 << 16); z.writestr(i, '/etc/passwd'))");
  expect_refused(t / "link.zip", t / "out", file_errc::bad_request, "symlink");
  // The same made by Info-ZIP's zip, which stores links as links with -y.
  write_file(t / "src/a.txt", "a");
  BOOST_REQUIRE(::symlink("/etc/passwd", (t / "src/link").c_str()) == 0);
  BOOST_REQUIRE(run("cd '" + t / "src" + "' && zip -q -y ../zip-y.zip a.txt link") == 0);
  expect_refused(t / "zip-y.zip", t / "out", file_errc::bad_request,
                 "zip entry \"link\": symlink entries are not allowed");
}

BOOST_AUTO_TEST_CASE(encrypted_and_exotic_entries_are_refused) {
  temp_dir t;
  write_file(t / "src/a.txt", "secret content");
  BOOST_REQUIRE(run("cd '" + t / "src" + "' && zip -q -P password ../enc.zip a.txt") == 0);
  expect_refused(t / "enc.zip", t / "out", file_errc::bad_request,
                 "zip entry \"a.txt\": encrypted entries are not supported");
  // Only stored and deflated entries: libarchive could inflate more, but
  // every other decompressor is more code on the upload path.
  make_zip(t / "bz.zip", R"(
import zipfile
with zipfile.ZipFile(zip_path, 'w', zipfile.ZIP_BZIP2) as z:
    z.writestr('b.txt', 'bzip2 ' * 100))",
           true);
  expect_refused(t / "bz.zip", t / "out", file_errc::bad_request,
                 "zip entry \"b.txt\": unsupported compression method bzip");
}

BOOST_AUTO_TEST_CASE(too_many_entries) {
  temp_dir t;
  make_zip(t / "many.zip", "for i in range(20): z.writestr('f%d' % i, 'x')");
  expect_refused(t / "many.zip", t / "out", file_errc::too_large, "more than 10 entries",
                 {10, 1 << 20});
  try {
    extract_bytes(read_file(t / "many.zip"), t / "out", {10, 1 << 20}, 0);
    BOOST_ERROR("accepted");
  } catch (const file_error& e) {
    BOOST_TEST(e.code() == "zip_too_many_entries");
  }
}

BOOST_AUTO_TEST_CASE(zip_bomb_by_declared_size) {
  temp_dir t;
  make_zip(t / "bomb.zip", "z.writestr('zeros', b'\\0' * (8 << 20))");
  expect_refused(t / "bomb.zip", t / "out", file_errc::too_large, "expands to more than",
                 {100, 1 << 20});
  // The total counts: two entries each under the limit, together over it.
  make_zip(t / "two.zip", "z.writestr('a', b'\\1' * 700000)\nz.writestr('b', b'\\2' * 700000)");
  expect_refused(t / "two.zip", t / "out", file_errc::too_large,
                 "the zip archive expands to more than 1048576 bytes", {100, 1 << 20});
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
  expect_refused(t / "liar.zip", t / "out", file_errc::bad_request,
                 "zip entry \"zeros\": inflates beyond its declared size");
}

BOOST_AUTO_TEST_CASE(malformed_archives) {
  temp_dir t;
  write_file(t / "junk.zip", std::string(1000, 'x'));
  expect_refused(t / "junk.zip", t / "out", file_errc::bad_request, "not a zip archive");
  // A valid archive cut in half.
  make_zip(t / "full.zip", "for i in range(50): z.writestr('f%d' % i, str(i) * 1000)");
  auto full = read_file(t / "full.zip");
  write_file(t / "cut.zip", full.substr(0, full.size() / 2));
  expect_refused(t / "cut.zip", t / "out", file_errc::bad_request, "");
  // Corrupt compressed data (CRC/inflate failure).
  make_zip(t / "c.zip", "z.writestr('a.txt', 'hello world ' * 1000)");
  auto c = read_file(t / "c.zip");
  c[60] = static_cast<char>(c[60] ^ 0x55);
  c[70] = static_cast<char>(c[70] ^ 0x55);
  write_file(t / "corrupt.zip", c);
  expect_refused(t / "corrupt.zip", t / "out", file_errc::bad_request, "zip entry \"a.txt\"");
  write_file(t / "empty.zip", "");
  expect_refused(t / "empty.zip", t / "out", file_errc::bad_request, "not a zip archive");
}

BOOST_AUTO_TEST_CASE(corrupted_crc_is_refused) {
  temp_dir t;
  // A real archive whose CRC fields (local header and central directory)
  // no longer match the data, stored and deflated; and one whose stored
  // data changed under a correct CRC.
  make_zip(t / "ok.zip", R"(
import zipfile
with zipfile.ZipFile(zip_path, 'w') as z:
    z.writestr(zipfile.ZipInfo('stored.txt'), 'stored bytes ' * 100)
    z.writestr(zipfile.ZipInfo('later.txt'), 'x'))",
           true);
  auto bytes = read_file(t / "ok.zip");
  auto crc_lie = bytes;
  crc_lie[14] = static_cast<char>(crc_lie[14] ^ 1);  // local header CRC of stored.txt
  const auto central = crc_lie.find("PK\1\2");
  BOOST_REQUIRE(central != std::string::npos);
  crc_lie[central + 16] = static_cast<char>(crc_lie[central + 16] ^ 1);
  write_file(t / "crc.zip", crc_lie);
  expect_refused(t / "crc.zip", t / "out", file_errc::bad_request,
                 "zip entry \"stored.txt\": CRC mismatch");
  auto data_lie = bytes;
  data_lie[30 + 10 + 5] = 'X';  // inside stored.txt's data
  write_file(t / "data.zip", data_lie);
  expect_refused(t / "data.zip", t / "out", file_errc::bad_request, "CRC mismatch");
  make_zip(t / "deflated.zip", "z.writestr('d.txt', 'deflated ' * 1000)");
  auto deflated = read_file(t / "deflated.zip");
  deflated[14] = static_cast<char>(deflated[14] ^ 0x80);
  write_file(t / "dcrc.zip", deflated);
  expect_refused(t / "dcrc.zip", t / "out", file_errc::bad_request,
                 "zip entry \"d.txt\": CRC mismatch");
}

BOOST_AUTO_TEST_CASE(inflated_entries_are_checked_exactly) {
  temp_dir t;
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
      {"central_size_lie", "entry('a.txt', b'hello ' * 500, central_size=7)",
       "zip entry \"a.txt\": the central directory and the data disagree on its size"},
      {"streamed_central_size_lie",
       "entry('a.txt', b'hello ' * 500, streamed=True, central_size=9)", "disagree on its size"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      make_zip(t / "bad.zip", handmade_zip(text + c.entries), true);
      expect_refused(t / "bad.zip", t / "out", file_errc::bad_request, c.needle);
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
  std::string ramp;
  for (int i = 0; i < 256; ++i) ramp += static_cast<char>(i);
  // 'big' repeats 256 bytes: it deflates far better than zip_max_ratio allows.
  extract_each_way(t / "good.zip", t / "out", {100000, 8ull << 30, 0}, [&](const zip_stats& stats) {
    BOOST_TEST(stats.files == 7u);
    BOOST_TEST(read_file(t / "out/first") == std::string(5000, 'x'));
    BOOST_TEST(read_file(t / "out/s1") == repeated(ramp, 4000));
    BOOST_TEST(read_file(t / "out/plain") == "stored bytes");
    BOOST_TEST(read_file(t / "out/s2").empty());
    BOOST_TEST(read_file(t / "out/big") == repeated(ramp, 20000));
    BOOST_TEST(read_file(t / "out/s3") == "tail tail tail ");
    BOOST_TEST(read_file(t / "out/s4") == "stored and streamed");
  });
}

BOOST_AUTO_TEST_CASE(duplicate_and_conflicting_entries) {
  temp_dir t;
  make_zip(t / "dup.zip",
           "import warnings; warnings.simplefilter('ignore')\nz.writestr('a', "
           "'1')\nz.writestr('a', '2')");
  expect_refused(t / "dup.zip", t / "out", file_errc::bad_request, "twice");
  make_zip(t / "conf.zip", "z.writestr('a', '1')\nz.writestr('a/b', '2')");
  expect_refused(t / "conf.zip", t / "out", file_errc::bad_request, "zip entry");
  make_zip(t / "dots.zip", "z.writestr('a', '1')\nz.writestr('./a', '2')");
  expect_refused(t / "dots.zip", t / "out", file_errc::bad_request, "zip entry \"./a\"");
}

BOOST_AUTO_TEST_CASE(zip64_end_record_with_absurd_size_is_refused) {
  // Found by fuzzing the Poco-based extractor: a zip64 end record that
  // claims an absurd size. The trailer reader refuses it unread.
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
  expect_refused(t / "z64.zip", t / "out", file_errc::bad_request, "zip64");
  // Trailing bytes after the end record are refused too.
  make_zip(t / "ok.zip", "z.writestr('a.txt', 'hello')");
  write_file(t / "tail.zip", read_file(t / "ok.zip") + "PK\x06\x06garbage");
  expect_refused(t / "tail.zip", t / "out", file_errc::bad_request, "after the end");
  // Whatever else follows the entries is no central directory.
  auto ok = read_file(t / "ok.zip");
  const auto central = ok.find("PK\1\2");
  write_file(t / "junk.zip", ok.substr(0, central) + "PK\x09\x09" + ok.substr(central));
  expect_refused(t / "junk.zip", t / "out", file_errc::bad_request, "");
}

BOOST_AUTO_TEST_CASE(data_between_entries_is_refused) {
  // libarchive's streaming reader steps over bytes that are no local
  // header; such bytes are refused, whether the central directory counts
  // them (honest offsets) or not (its offset points at the junk).
  temp_dir t;
  for (const bool honest : {true, false}) {
    BOOST_TEST_CONTEXT((honest ? "offsets count the junk" : "offsets ignore the junk")) {
      make_zip(t / "gap.zip",
               R"(
import io, struct, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w') as z:
    z.writestr('one.txt', 'first entry')
    z.writestr('two.txt', 'second entry')
data = bytearray(buf.getvalue())
second = data.find(b'PK\x03\x04', 1)
junk = b'JUNK' * 5
cd = data.find(b'PK\x01\x02')
cd2 = data.find(b'PK\x01\x02', cd + 1)
eocd = data.rfind(b'PK\x05\x06')
if )" + std::string(honest ? "True" : "False") +
                   R"(:
    struct.pack_into('<I', data, cd2 + 42, second + len(junk))
struct.pack_into('<I', data, eocd + 16, cd + len(junk))
open(zip_path, 'wb').write(bytes(data[:second]) + junk + bytes(data[second:])))",
               true);
      expect_refused(t / "gap.zip", t / "out", file_errc::bad_request,
                     "unexpected data between the entries");
    }
  }
}

BOOST_AUTO_TEST_CASE(zip64_archives_extract) {
  // Python writes zip64 records when forced: the trailer reader takes them.
  temp_dir t;
  make_zip(t / "z64.zip", R"(
import zipfile
with zipfile.ZipFile(zip_path, 'w', zipfile.ZIP_DEFLATED) as z:
    with z.open('big.txt', 'w', force_zip64=True) as f:
        f.write(b'zip64 ' * 1000)
    z.writestr('small.txt', 'small'))",
           true);
  extract_each_way(t / "z64.zip", t / "out", {}, [&](const zip_stats& stats) {
    BOOST_TEST(stats.files == 2u);
    BOOST_TEST(read_file(t / "out/big.txt") == repeated("zip64 ", 1000));
    BOOST_TEST(read_file(t / "out/small.txt") == "small");
  });
}

BOOST_AUTO_TEST_CASE(zip64_data_descriptors_extract) {
  // Info-ZIP's zip writing to a pipe, zip64 forced: 64-bit data descriptors.
  temp_dir t;
  write_file(t / "src/a.txt", repeated("streamed zip64 ", 3000));
  write_file(t / "src/b/c.txt", "c");
  BOOST_REQUIRE(run("cd '" + t / "src" + "' && zip -q -r -fz - a.txt b | cat > ../fz.zip") == 0);
  extract_each_way(t / "fz.zip", t / "out", {}, [&](const zip_stats& stats) {
    BOOST_TEST(stats.files == 2u);
    BOOST_TEST(read_file(t / "out/a.txt") == repeated("streamed zip64 ", 3000));
    BOOST_TEST(read_file(t / "out/b/c.txt") == "c");
  });
}

BOOST_AUTO_TEST_CASE(fed_from_a_different_thread_each_time) {
  // The actor hands each chunk to whichever blocking worker is free.
  temp_dir t;
  make_zip(t / "g.zip",
           "for i in range(200): z.writestr('d%d/f%d.txt' % (i % 7, i), str(i) * 5000)");
  const auto bytes = read_file(t / "g.zip");
  std::filesystem::create_directory(t / "out");
  const unique_fd dir = open_directory(t / "out");
  zip_extractor x(dir.get(), {});
  for (std::size_t off = 0; off < bytes.size(); off += 777) {
    std::thread feeder(
        [&] { x.feed(bytes.data() + off, std::min<std::size_t>(777, bytes.size() - off)); });
    feeder.join();
  }
  zip_stats stats;
  std::thread last([&] { stats = x.finish(); });
  last.join();
  BOOST_TEST(stats.files == 200u);
  BOOST_TEST(read_file(t / "out/d3/f199.txt") == repeated("199", 5000));
}

BOOST_AUTO_TEST_CASE(truncated_archive_is_refused_and_cleaned) {
  temp_dir t;
  make_zip(t / "g.zip", "for i in range(50): z.writestr('f%d.txt' % i, str(i) * 5000)");
  auto bytes = read_file(t / "g.zip");
  write_file(t / "half.zip", bytes.substr(0, bytes.size() * 2 / 3));
  expect_refused(t / "half.zip", t / "out", file_errc::bad_request, "malformed zip archive");
  // Cut inside the central directory, or just before the end record.
  const auto central = bytes.find("PK\1\2");
  write_file(t / "cd.zip", bytes.substr(0, central + 100));
  expect_refused(t / "cd.zip", t / "out", file_errc::bad_request, "malformed zip archive");
  write_file(t / "end.zip", bytes.substr(0, bytes.size() - 22));
  expect_refused(t / "end.zip", t / "out", file_errc::bad_request, "no end of central directory");
}

BOOST_AUTO_TEST_CASE(a_refusal_is_final) {
  temp_dir t;
  make_zip(t / "slip.zip", "z.writestr('good.txt', 'g')\nz.writestr('../x', 'evil')");
  const auto bytes = read_file(t / "slip.zip");
  std::filesystem::create_directory(t / "out");
  const unique_fd dir = open_directory(t / "out");
  zip_extractor x(dir.get(), {});
  BOOST_CHECK_THROW(x.feed(bytes.data(), bytes.size()), file_error);
  BOOST_CHECK_THROW(x.feed("PK", 2), file_error);  // the same refusal again
  BOOST_CHECK_THROW(x.finish(), file_error);
  BOOST_TEST(count_entries(t / "out") == 0u);
}

BOOST_AUTO_TEST_CASE(an_abandoned_extraction_leaves_nothing) {
  // The client goes away mid-upload: whatever point the extraction reached,
  // the destroyed extractor leaves dest empty and no descriptor open.
  temp_dir t;
  make_zip(t / "g.zip",
           "for i in range(60): z.writestr('d%d/f%d.txt' % (i % 5, i), str(i) * 20000)\n"
           "z.writestr('last/', '')");
  const auto bytes = read_file(t / "g.zip");
  std::filesystem::create_directory(t / "out");
  const unique_fd dir = open_directory(t / "out");
  const auto before = open_fds();
  for (const std::size_t cut :
       {std::size_t{1}, std::size_t{40}, bytes.size() / 3, bytes.size() - 30, bytes.size()}) {
    BOOST_TEST_CONTEXT("abandoned after " << cut << " of " << bytes.size() << " bytes") {
      {
        zip_extractor x(dir.get(), {});
        for (std::size_t at = 0; at < cut; at += 4096)
          x.feed(bytes.data() + at, std::min<std::size_t>(4096, cut - at));
        if (cut > bytes.size() / 2) BOOST_TEST(count_entries(t / "out") > 0u);
      }
      BOOST_TEST(count_entries(t / "out") == 0u);
      BOOST_TEST(open_fds() == before);
    }
  }
  { zip_extractor never_fed(dir.get(), {}); }
  BOOST_TEST(open_fds() == before);
}

BOOST_AUTO_TEST_CASE(entry_names_are_checked) {
  BOOST_TEST(checked_entry_name("a/./b//c/") == "a/b/c");
  for (const char* bad : {"", "/a", "..", "a/../b", "a\\b", "C:x", "a/.nomad-iis-staging-x/b"}) {
    BOOST_TEST_CONTEXT(bad) {
      try {
        checked_entry_name(bad);
        BOOST_ERROR("accepted");
      } catch (const file_error& e) {
        BOOST_TEST(e.code() == "bad_zip_entry");
        BOOST_TEST(static_cast<int>(e.kind()) == static_cast<int>(file_errc::bad_request));
      }
    }
  }
  BOOST_CHECK_THROW(checked_entry_name(std::string("a\0b", 3)), file_error);
  BOOST_CHECK_THROW(checked_entry_name(std::string(300, 'n')), file_error);
}

BOOST_AUTO_TEST_SUITE_END()
