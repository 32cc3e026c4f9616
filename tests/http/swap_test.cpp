#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "adapters/http/remove.hpp"
#include "adapters/http/swap.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::http;
using namespace nomad_iis::http::test;

BOOST_AUTO_TEST_SUITE(atomic_swap)

BOOST_AUTO_TEST_CASE(staging_dir_is_beside_the_target_and_removed) {
  temp_dir t;
  std::filesystem::create_directories(t / "site/local");
  std::string path;
  {
    staging_dir s(t / "site/local/new/deep/file.txt");  // nearest existing ancestor: local
    path = s.path();
    BOOST_TEST(path.rfind(t / "site/local/.nomad-iis-staging-", 0) == 0u);
    struct stat st {};
    BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0700u);
    write_file(s / "x/y", "data");
  }
  BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(swap_exchanges_or_creates) {
  temp_dir t;
  write_file(t / "old/a.txt", "old");
  write_file(t / "new/b.txt", "new");
  swap_into_place(t / "new", t / "old", t / "aside");
  BOOST_TEST(read_file(t / "old/b.txt") == "new");
  BOOST_TEST(read_file(t / "new/a.txt") == "old");  // the old tree, now in staging
  write_file(t / "fresh/c.txt", "c");
  swap_into_place(t / "fresh", t / "made/parents/target", t / "aside2");
  BOOST_TEST(read_file(t / "made/parents/target/c.txt") == "c");
  write_file(t / "f1", "one");
  write_file(t / "f2", "two");
  swap_into_place(t / "f2", t / "f1", t / "aside3");
  BOOST_TEST(read_file(t / "f1") == "two");
}

BOOST_AUTO_TEST_CASE(merge_links_keeps_old_entries_staged_win) {
  temp_dir t;
  write_file(t / "old/keep.txt", "keep");
  write_file(t / "old/replace.txt", "old");
  write_file(t / "old/dir/inner.txt", "inner");
  write_file(t / "old/dirfile/x", "x");  // a folder the upload replaces by a file
  BOOST_REQUIRE(::symlink("keep.txt", (t / "old/link").c_str()) == 0);
  write_file(t / "staged/replace.txt", "new");
  write_file(t / "staged/dir/added.txt", "added");
  write_file(t / "staged/dirfile", "now a file");
  merge_links(t / "old", t / "staged");
  BOOST_TEST(read_file(t / "staged/keep.txt") == "keep");
  BOOST_TEST(read_file(t / "staged/replace.txt") == "new");
  BOOST_TEST(read_file(t / "staged/dir/inner.txt") == "inner");
  BOOST_TEST(read_file(t / "staged/dir/added.txt") == "added");
  BOOST_TEST(read_file(t / "staged/dirfile") == "now a file");
  BOOST_TEST(std::filesystem::is_symlink(t / "staged/link"));
  struct stat a {
  }, b{};
  ::stat((t / "old/keep.txt").c_str(), &a);
  ::stat((t / "staged/keep.txt").c_str(), &b);
  BOOST_TEST(a.st_ino == b.st_ino);  // a hard link, not a copy
  // The old tree is untouched.
  BOOST_TEST(read_file(t / "old/replace.txt") == "old");
  BOOST_TEST(!std::filesystem::exists(t / "old/dir/added.txt"));
}

BOOST_AUTO_TEST_CASE(ownership_follows_what_is_replaced) {
  temp_dir t;
  write_file(t / "dir/f", "x");
  ::chmod((t / "dir/f").c_str(), 0640);
  auto own = ownership_for(t / "dir/f", 0644);
  BOOST_TEST(own.mode == 0640u);
  auto fresh = ownership_for(t / "dir/missing/g", 0644);
  BOOST_TEST(fresh.mode == 0644u);
  struct stat st {};
  ::stat((t / "dir").c_str(), &st);
  BOOST_TEST(fresh.uid == st.st_uid);
}

BOOST_AUTO_TEST_CASE(clean_suffixes) {
  std::string p = "local/x/*";
  BOOST_TEST(strip_clean_suffix(p));
  BOOST_TEST(p == "local/x");
  p = "local/x/*.*";
  BOOST_TEST(strip_clean_suffix(p));
  BOOST_TEST(p == "local/x");
  p = "local/x";
  BOOST_TEST(!strip_clean_suffix(p));
  p = "local/x*";
  BOOST_TEST(!strip_clean_suffix(p));
  p = "*";
  BOOST_TEST(strip_clean_suffix(p));
  BOOST_TEST(p.empty());
}

BOOST_AUTO_TEST_SUITE_END()
