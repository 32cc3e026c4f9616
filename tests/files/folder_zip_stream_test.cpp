// iis/files/folder_zip_stream: a folder as a zip, pulled a chunk at a time.
// What it makes passes `unzip -t`, unzips to the same bytes, and extracts
// with zip_extractor; files that change while read still give a valid zip;
// an abandoned stream closes every descriptor.

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "tests/files/zip_test_util.hpp"

using namespace nomad_iis;
using namespace nomad_iis::files;
using namespace nomad_iis::files::test;
namespace fs = std::filesystem;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

/// A tree with what a site holds: text, binary, empty files and folders,
/// an executable, a non-ASCII name, a link (left out) and a nested path.
void make_tree(const std::string& root) {
  write_file(root + "/index.html", "<h1>hello</h1>");
  write_file(root + "/a.txt", std::string(100000, 'a'));
  write_file(root + "/sub/b.bin", std::string("\0\1\2", 3));
  write_file(root + "/sub/deeper/c.txt", "");
  write_file(root + "/random.bin", random_bytes(1 << 20, 42));  // two chunks, incompressible
  write_file(root +
                 "/caf\xc3\xa9/\xc3\xbc"
                 "ber.txt",
             "utf-8 names");
  write_file(root + "/bin/app", "#!/bin/sh\necho hi\n");
  fs::permissions(root + "/bin/app", fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::add);
  fs::create_directories(root + "/emptydir");
  BOOST_REQUIRE(::symlink("/etc/passwd", (root + "/link").c_str()) == 0);
  const struct timeval old[2] = {{1600000000, 0}, {1600000000, 0}};
  BOOST_REQUIRE(::utimes((root + "/index.html").c_str(), old) == 0);
}

/// The zip of the folder `root`.
std::string zip_folder(const std::string& root, std::size_t chunk_bytes) {
  const unique_fd dir = open_directory(root);
  BOOST_REQUIRE(dir);
  folder_zip_stream stream(walk_of(dir.get()), chunk_bytes);
  return drain(stream);
}

/// Every regular file below `a` is in `b` with the same bytes, and the
/// other way round; the same folders too.
void expect_same_tree(const std::string& a, const std::string& b) {
  std::size_t seen = 0;
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    if (e.is_symlink()) continue;
    const auto rel = fs::relative(e.path(), a).string();
    BOOST_TEST_CONTEXT(rel) {
      const auto other = fs::path(b) / rel;
      BOOST_TEST(!fs::is_symlink(other));
      if (e.is_directory()) {
        BOOST_TEST(fs::is_directory(other));
      } else {
        BOOST_TEST(fs::is_regular_file(other));
        BOOST_TEST((read_file(e.path()) == read_file(other)));
      }
    }
    ++seen;
  }
  std::size_t there = 0;
  for ([[maybe_unused]] const auto& e : fs::recursive_directory_iterator(b)) ++there;
  BOOST_TEST(there == seen);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(folder_zip)

BOOST_AUTO_TEST_CASE(round_trip_through_unzip_and_our_extractor) {
  temp_dir t;
  make_tree(t / "src");
  const auto zip = zip_folder(t / "src", folder_zip_stream::default_chunk_bytes);
  write_file(t / "src.zip", zip);
  BOOST_TEST(run("unzip -tq '" + t / "src.zip" + "' > '" + t / "unzip-t.log" + "'") == 0,
             read_file(t / "unzip-t.log"));
  BOOST_REQUIRE(run("unzip -q '" + t / "src.zip" + "' -d '" + t / "unzipped" + "'") == 0);
  fs::remove(t / "src/link");  // links are left out of a download
  expect_same_tree(t / "src", t / "unzipped");
  struct stat st {};
  BOOST_REQUIRE(::stat((t / "unzipped/bin/app").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0755u);
  BOOST_REQUIRE(::stat((t / "unzipped/index.html").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0644u);
  BOOST_TEST(st.st_mtime == 1600000000);
  // Our own extractor reads it back, whatever the chunking.
  extract_each_way(t / "src.zip", t / "out", {}, [&](const zip_stats& stats) {
    BOOST_TEST(stats.files == 7u);
    BOOST_TEST(stats.directories == 5u);  // sub, sub/deeper, café, bin, emptydir
    expect_same_tree(t / "src", t / "out");
    struct stat app {};
    BOOST_REQUIRE(::stat((t / "out/bin/app").c_str(), &app) == 0);
    BOOST_TEST((app.st_mode & 0100) != 0u);
  });
  // Python's zipfile sees folders as "name/", files with their sizes, the
  // non-ASCII name flagged UTF-8.
  BOOST_TEST(run("python3 -c \"import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); "
                 "n=z.namelist(); assert 'emptydir/' in n and 'sub/deeper/c.txt' in n, n; "
                 "assert 'caf\\u00e9/\\u00fcber.txt' in n, n; assert z.testzip() is None\" '" +
                 t / "src.zip" + "'") == 0);
}

BOOST_AUTO_TEST_CASE(chunks_come_in_the_size_asked) {
  temp_dir t;
  make_tree(t / "src");
  const unique_fd dir = open_directory(t / "src");
  const std::size_t size = 64 << 10;
  folder_zip_stream stream(walk_of(dir.get()), size);
  std::string chunk, all;
  std::size_t chunks = 0, short_ones = 0;
  while (stream.next(chunk)) {
    BOOST_TEST(!chunk.empty());
    BOOST_TEST(chunk.size() <= size + (64 << 10) + 512);
    if (chunk.size() < size) ++short_ones;
    all += chunk;
    ++chunks;
  }
  BOOST_TEST(chunk.empty());
  BOOST_TEST(!stream.next(chunk));                      // stays at the end
  BOOST_TEST(chunks >= 16u);                            // 1 MiB of random bytes alone
  BOOST_TEST(short_ones <= 1u);                         // only the last
  BOOST_TEST((all == zip_folder(t / "src", 1 << 20)));  // the chunking changes nothing
}

BOOST_AUTO_TEST_CASE(an_empty_folder_is_an_empty_zip) {
  temp_dir t;
  fs::create_directories(t / "src");
  const auto zip = zip_folder(t / "src", 1024);
  BOOST_TEST(zip.size() == 22u);  // the end record alone
  write_file(t / "e.zip", zip);
  extract_each_way(t / "e.zip", t / "out", {},
                   [&](const zip_stats& stats) { BOOST_TEST(stats.files == 0u); });
}

BOOST_AUTO_TEST_CASE(files_that_change_while_read_give_a_valid_zip) {
  // The walk saw one size; the file then has another. A shrunk file gives
  // what is left, a grown one what the walk saw.
  temp_dir t;
  write_file(t / "src/shrunk.txt", "only this is left");
  write_file(t / "src/grown.txt", std::string(50000, 'g'));
  write_file(t / "src/steady.txt", "steady");
  const unique_fd dir = open_directory(t / "src");
  auto walk = walk_of(dir.get());
  folder_zip_stream stream(
      [&](const folder_visitor& visit) {
        walk([&](std::string_view rel, int fd, const struct stat& st) {
          struct stat seen = st;
          if (rel == "shrunk.txt") seen.st_size = 1 << 20;
          if (rel == "grown.txt") seen.st_size = 1000;
          visit(rel, fd, seen);
        });
      },
      64 << 10);
  write_file(t / "changing.zip", drain(stream));
  BOOST_TEST(run("unzip -tq '" + t / "changing.zip" + "' > /dev/null") == 0);
  BOOST_REQUIRE(run("unzip -q '" + t / "changing.zip" + "' -d '" + t / "unzipped" + "'") == 0);
  BOOST_TEST(read_file(t / "unzipped/shrunk.txt") == "only this is left");
  BOOST_TEST(read_file(t / "unzipped/grown.txt") == std::string(1000, 'g'));
  extract_each_way(t / "changing.zip", t / "out", {}, [&](const zip_stats& stats) {
    BOOST_TEST(stats.files == 3u);
    BOOST_TEST(read_file(t / "out/shrunk.txt") == "only this is left");
    BOOST_TEST(read_file(t / "out/grown.txt") == std::string(1000, 'g'));
    BOOST_TEST(read_file(t / "out/steady.txt") == "steady");
  });
}

BOOST_AUTO_TEST_CASE(an_abandoned_stream_closes_every_descriptor) {
  temp_dir t;
  make_tree(t / "src");
  for (int i = 0; i < 20; ++i)
    write_file(t / ("src/deep/" + std::string(static_cast<std::size_t>(i) + 1, 'd') + "/f.bin"),
               random_bytes(100000, static_cast<unsigned>(i)));
  const unique_fd dir = open_directory(t / "src");
  const auto before = open_fds();
  for (int taken : {0, 1, 3, 10}) {
    BOOST_TEST_CONTEXT("abandoned after " << taken << " chunks") {
      int visits = 0;
      {
        auto walk = walk_of(dir.get());
        folder_zip_stream stream(
            [&](const folder_visitor& visit) {
              walk([&](std::string_view rel, int fd, const struct stat& st) {
                ++visits;
                visit(rel, fd, st);
              });
            },
            64 << 10);
        std::string chunk;
        for (int i = 0; i < taken; ++i) BOOST_REQUIRE(stream.next(chunk));
        if (taken > 0) BOOST_TEST(open_fds() > before);  // the walk holds folders and a file
      }
      BOOST_TEST(open_fds() == before);
      if (taken == 0) BOOST_TEST(visits == 0);  // nothing runs before the first next()
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failing_walk_reaches_the_reader) {
  temp_dir t;
  write_file(t / "src/a.txt", "a");
  const unique_fd dir = open_directory(t / "src");
  auto walk = walk_of(dir.get());
  const auto before = open_fds();
  {
    folder_zip_stream stream(
        [&](const folder_visitor& visit) {
          walk(visit);
          throw std::runtime_error("walk: nested deeper than 256 levels");
        },
        1024);
    std::string chunk;
    BOOST_CHECK_EXCEPTION(while (stream.next(chunk)){}, std::runtime_error,
                          [](const std::runtime_error& e) {
                            return std::string(e.what()).find("nested") != std::string::npos;
                          });
    BOOST_TEST(!stream.next(chunk));  // spent
  }
  BOOST_TEST(open_fds() == before);
}

BOOST_AUTO_TEST_SUITE_END()
