// Folder listings (files::list_folder, GET fs/{path}?list=true) on a real
// task dir: what is listed, with what type, size and time, and what a
// folder download would leave out is left out here too.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "iis/files/transfer.hpp"
#include "tests/files/task_files_util.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::files;
using nomad_iis::files::test::error_of;
using namespace nomad_iis::http::test;

namespace {

struct listed_tree {
  temp_dir t;
  listed_tree() {
    write_file(t / "task/local/index.html", "hello");
    write_file(t / "task/local/css/site.css", "body{}");
    write_file(t / "task/secrets/token", "s3cr3t");
    write_file(t / "task/private/key", "private");
    write_file(t / "task/local/.nomad-iis-staging-x/half", "staged");
    BOOST_REQUIRE(::symlink("index.html", (t / "task/local/home.html").c_str()) == 0);
    const struct timeval times[2] = {{1700000000, 0}, {1700000000, 0}};
    BOOST_REQUIRE(::utimes((t / "task/local/index.html").c_str(), times) == 0);
  }
  folder_listing list(const std::string& path, bool allow_secrets = false) const {
    return list_folder({t / "task", t / "task/secrets", allow_secrets, path});
  }
};

std::string names_of(const folder_listing& l) {
  std::string out;
  for (const auto& e : l.entries) out += (out.empty() ? "" : ",") + e.name + ":" + e.type;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(folder_listing_)

BOOST_AUTO_TEST_CASE(a_folder_lists_its_entries_sorted_with_type_size_and_time) {
  listed_tree tree;
  const auto l = tree.list("local");
  BOOST_TEST(l.path == "local");
  // The staging folder is left out; the symlink is listed, not followed.
  BOOST_TEST(names_of(l) == "css:directory,home.html:symlink,index.html:file");
  BOOST_TEST(l.entries[2].size == 5u);
  BOOST_TEST(l.entries[2].modified == 1700000000);
  BOOST_TEST(l.entries[0].size == 0u);
}

BOOST_AUTO_TEST_CASE(the_task_dir_leaves_out_the_guarded_folders) {
  listed_tree tree;
  BOOST_TEST(names_of(tree.list("")) == "local:directory");
  BOOST_TEST(names_of(tree.list("", true)) == "local:directory,secrets:directory");
}

BOOST_AUTO_TEST_CASE(files_missing_paths_and_guarded_folders_are_refused) {
  listed_tree tree;
  BOOST_TEST(error_of([&] { tree.list("local/index.html"); }) ==
             "bad_request not_a_folder: \"local/index.html\" is a file, not a folder");
  BOOST_TEST(error_of([&] { tree.list("local/nothing"); }).rfind("not_found", 0) == 0u);
  BOOST_TEST(error_of([&] { tree.list("private"); }).rfind("forbidden", 0) == 0u);
  BOOST_TEST(error_of([&] { tree.list("secrets"); }).rfind("forbidden", 0) == 0u);
  BOOST_TEST(error_of([&] { tree.list("../"); }).rfind("bad_request", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
