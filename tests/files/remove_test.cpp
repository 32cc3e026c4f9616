// DELETE through the task files module (iis/files/remove): what is checked
// before the task is held, the atomic move when it is, the removal after.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "iis/files/remove.hpp"
#include "tests/files/task_files_util.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::files;
using nomad_iis::files::test::error_of;
using nomad_iis::http::test::read_file;
using nomad_iis::http::test::temp_dir;
using nomad_iis::http::test::write_file;

namespace {

std::size_t stagings_in(const std::string& dir) {
  std::size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().filename().string().rfind(".nomad-iis-staging-", 0) == 0;
  return n;
}

struct task {
  temp_dir t;
  task() {
    write_file(t / "task/local/index.html", "hi");
    write_file(t / "task/local/sub/a.txt", "a");
    write_file(t / "outside/keep", "keep");
  }
  task_root root() const { return task_root(t / "task", "secrets", false); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(task_file_removal)

BOOST_AUTO_TEST_CASE(a_file_moves_away_on_apply_and_goes_with_the_object) {
  task k;
  const auto root = k.root();
  const auto r = resolve_path(root, "local/index.html");
  {
    pending_delete removal(r, false);
    BOOST_TEST(stagings_in(k.t / "task/local") == 1u);
    BOOST_TEST(read_file(k.t / "task/local/index.html") == "hi");  // not before apply
    removal.apply();
    BOOST_TEST(!std::filesystem::exists(k.t / "task/local/index.html"));
  }
  BOOST_TEST(stagings_in(k.t / "task/local") == 0u);
  BOOST_TEST(std::filesystem::exists(k.t / "task/local/sub/a.txt"));
}

BOOST_AUTO_TEST_CASE(a_link_is_removed_not_what_it_leads_to) {
  task k;
  BOOST_REQUIRE(::symlink("sub", (k.t / "task/local/to-sub").c_str()) == 0);
  BOOST_REQUIRE(::symlink((k.t / "outside/keep").c_str(), (k.t / "task/local/out").c_str()) == 0);
  const auto root = k.root();
  const auto r = resolve_path(root, "local/to-sub");
  pending_delete(r, false).apply();
  BOOST_TEST(!std::filesystem::is_symlink(k.t / "task/local/to-sub"));
  BOOST_TEST(read_file(k.t / "task/local/sub/a.txt") == "a");
}

BOOST_AUTO_TEST_CASE(emptying_keeps_the_folder_with_its_mode) {
  task k;
  BOOST_REQUIRE(::chmod((k.t / "task/local/sub").c_str(), 0751) == 0);
  const auto root = k.root();
  const auto r = resolve_path(root, "local/sub");
  pending_delete(r, true).apply();
  BOOST_TEST(std::filesystem::is_directory(k.t / "task/local/sub"));
  BOOST_TEST(std::filesystem::is_empty(k.t / "task/local/sub"));
  struct stat st {};
  BOOST_REQUIRE(::stat((k.t / "task/local/sub").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0751u);
  BOOST_TEST(stagings_in(k.t / "task/local") == 0u);
  // Through a link, the folder it leads to is emptied; the link stays.
  write_file(k.t / "task/local/sub/b.txt", "b");
  BOOST_REQUIRE(::symlink("sub", (k.t / "task/local/to-sub").c_str()) == 0);
  const auto via = resolve_path(root, "local/to-sub");
  pending_delete(via, true).apply();
  BOOST_TEST(std::filesystem::is_symlink(k.t / "task/local/to-sub"));
  BOOST_TEST(std::filesystem::is_empty(k.t / "task/local/sub"));
}

BOOST_AUTO_TEST_CASE(refusals_name_the_problem) {
  task k;
  BOOST_REQUIRE(::symlink("..", (k.t / "task/local/up").c_str()) == 0);
  const auto root = k.root();
  const std::string task_dir =
      "bad_request bad_path: the task directory itself cannot be deleted or emptied";
  auto refusal = [&](const char* path, bool empty_only) {
    const auto target = resolve_path(root, path);
    return error_of([&] { pending_delete(target, empty_only); });
  };
  BOOST_TEST(refusal("", false) == task_dir);
  BOOST_TEST(refusal("", true) == task_dir);
  BOOST_TEST(refusal("local/up", true) == task_dir);
  BOOST_TEST(refusal("local/none", false) == "not_found not_found: \"local/none\" does not exist");
  BOOST_TEST(refusal("local/index.html", true) ==
             "conflict not_a_directory: \"local/index.html\" is not a folder");
  // Gone between the check and the move.
  const auto r = resolve_path(root, "local/index.html");
  pending_delete removal(r, false);
  BOOST_REQUIRE(::unlink((k.t / "task/local/index.html").c_str()) == 0);
  BOOST_TEST(error_of([&] { removal.apply(); }) ==
             "not_found not_found: \"local/index.html\" does not exist");
  BOOST_TEST(read_file(k.t / "outside/keep") == "keep");
}

BOOST_AUTO_TEST_SUITE_END()
