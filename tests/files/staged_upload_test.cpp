// The filesystem steps of an upload (iis/files/staged_upload): the target
// checks, the owner and mode taken over, the staged writes, and the swap
// into place with or without merging.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "iis/files/staged_upload.hpp"
#include "tests/files/task_files_util.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::files;
using nomad_iis::unique_fd;
using nomad_iis::files::test::error_of;
using nomad_iis::http::test::read_file;
using nomad_iis::http::test::temp_dir;
using nomad_iis::http::test::write_file;

namespace {

struct task {
  temp_dir t;
  task() {
    write_file(t / "task/local/index.html", "old page");
    write_file(t / "task/local/site/keep.txt", "keep");
    write_file(t / "task/local/site/replace.txt", "old");
  }
  task_root root() const { return task_root(t / "task", "secrets", false); }
};

/// Stages a folder holding `files` (name, content) as the upload's content.
void stage_folder(const staging_dir& staging,
                  std::initializer_list<std::pair<const char*, const char*>> files) {
  const unique_fd dir = staging.make_dir(staged_name, 0755);
  for (const auto& [name, content] : files) {
    unique_fd f(::openat(dir.get(), name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
    BOOST_REQUIRE(f);
    write_staged(f.get(), content, std::strlen(content));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(task_file_uploads)

BOOST_AUTO_TEST_CASE(targets_an_upload_cannot_replace) {
  task k;
  BOOST_REQUIRE(::symlink("..", (k.t / "task/local/up").c_str()) == 0);
  const auto root = k.root();
  const std::string task_dir = "bad_request bad_path: the task directory itself cannot be replaced";
  BOOST_TEST(error_of([&] { check_upload_target(resolve_path(root, ""), true); }) == task_dir);
  BOOST_TEST(error_of([&] { check_upload_target(resolve_path(root, "local/up"), false); }) ==
             task_dir);
  BOOST_TEST(
      error_of([&] { check_upload_target(resolve_path(root, "local/index.html"), true); }) ==
      "conflict not_a_directory: a zip is extracted into a folder, but the target is a file");
  BOOST_TEST(error_of([&] { check_upload_target(resolve_path(root, "local/site"), false); }) ==
             "conflict is_a_directory: the target is a folder; send a zip (Content-Type: "
             "application/zip)");
  BOOST_TEST(error_of([&] { check_upload_target(resolve_path(root, "local/site"), true); }) ==
             "ok");
  BOOST_TEST(error_of([&] { check_upload_target(resolve_path(root, "local/new/f"), false); }) ==
             "ok");
}

BOOST_AUTO_TEST_CASE(the_content_takes_over_what_it_replaces) {
  task k;
  BOOST_REQUIRE(::chmod((k.t / "task/local/index.html").c_str(), 0640) == 0);
  const auto root = k.root();
  BOOST_TEST(upload_ownership(resolve_path(root, "local/index.html").target(), false).mode ==
             0640u);
  const auto fresh = upload_ownership(resolve_path(root, "local/new.txt").target(), false);
  BOOST_TEST(fresh.mode == 0644u);
  struct stat st {};
  BOOST_REQUIRE(::stat((k.t / "task/local").c_str(), &st) == 0);
  BOOST_TEST(fresh.uid == st.st_uid);
  BOOST_TEST(upload_ownership(resolve_path(root, "local/newdir").target(), true).mode == 0755u);
}

BOOST_AUTO_TEST_CASE(a_full_disk_is_no_space) {
  unique_fd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  BOOST_REQUIRE(full);
  const auto error = error_of([&] { write_staged(full.get(), "data", 4); });
  BOOST_TEST(error.rfind("no_space write_failed: staging the upload failed: ", 0) == 0u, error);
}

BOOST_AUTO_TEST_CASE(a_zip_merges_unless_clean) {
  task k;
  const auto root = k.root();
  {
    const auto r = resolve_path(root, "local/site");
    staging_dir staging(r.target().dir.get());
    stage_folder(staging, {{"replace.txt", "new"}, {"added.txt", "added"}});
    place_upload(root, r.target(), staging, true, false);
  }
  BOOST_TEST(read_file(k.t / "task/local/site/keep.txt") == "keep");
  BOOST_TEST(read_file(k.t / "task/local/site/replace.txt") == "new");
  BOOST_TEST(read_file(k.t / "task/local/site/added.txt") == "added");
  {
    const auto r = resolve_path(root, "local/site");
    staging_dir staging(r.target().dir.get());
    stage_folder(staging, {{"only.txt", "only"}});
    place_upload(root, r.target(), staging, true, true);
  }
  BOOST_TEST(read_file(k.t / "task/local/site/only.txt") == "only");
  BOOST_TEST(!std::filesystem::exists(k.t / "task/local/site/keep.txt"));
  BOOST_TEST(!std::filesystem::exists(k.t / "task/local/site/added.txt"));
}

BOOST_AUTO_TEST_CASE(a_file_lands_in_new_folders_and_the_old_one_stays_staged) {
  task k;
  const auto root = k.root();
  {
    const auto r = resolve_path(root, "local/a/b/f.txt");
    BOOST_TEST(r.target().missing.size() == 2u);
    staging_dir staging(r.target().dir.get());
    const unique_fd f = staging.create_file(staged_name, 0600);
    write_staged(f.get(), "fresh", 5);
    place_upload(root, r.target(), staging, false, false);
  }
  BOOST_TEST(read_file(k.t / "task/local/a/b/f.txt") == "fresh");
  const auto r = resolve_path(root, "local/index.html");
  staging_dir staging(r.target().dir.get());
  const unique_fd f = staging.create_file(staged_name, 0600);
  write_staged(f.get(), "new page", 8);
  place_upload(root, r.target(), staging, false, false);
  BOOST_TEST(read_file(k.t / "task/local/index.html") == "new page");
  // The replaced file is in staging now, under the staged name, until it goes.
  unique_fd old(::openat(staging.fd(), staged_name, O_RDONLY | O_CLOEXEC));
  BOOST_REQUIRE(old);
  char buf[16] = {};
  BOOST_TEST(::read(old.get(), buf, sizeof buf) == 8);
  BOOST_TEST(std::string(buf) == "old page");
}

BOOST_AUTO_TEST_CASE(a_target_that_changed_type_is_left_alone) {
  task k;
  const auto root = k.root();
  const auto r = resolve_path(root, "local/site");
  staging_dir staging(r.target().dir.get());
  stage_folder(staging, {{"x", "x"}});
  // The app puts a file where the folder was, after the checks.
  std::filesystem::remove_all(k.t / "task/local/site");
  write_file(k.t / "task/local/site", "a file now");
  BOOST_TEST(error_of([&] { place_upload(root, r.target(), staging, true, false); }) ==
             "conflict type_changed: the target changed type during the upload");
  BOOST_TEST(read_file(k.t / "task/local/site") == "a file now");
}

BOOST_AUTO_TEST_SUITE_END()
