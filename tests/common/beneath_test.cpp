// common/beneath: resolution never leaves the directory, walks and removals
// never follow links, also while another thread swaps a folder and a link.

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "common/beneath.hpp"

namespace fs = std::filesystem;
using namespace nomad_iis;

namespace {

struct temp_tree {
  fs::path root;
  temp_tree() {
    std::string tmpl = (fs::temp_directory_path() / "beneath-XXXXXX").string();
    root = ::mkdtemp(tmpl.data());
    fs::create_directories(root / "task/local/dir");
    fs::create_directories(root / "outside");
    write(root / "task/local/dir/file", "inside");
    write(root / "outside/file", "outside");
  }
  ~temp_tree() { fs::remove_all(root); }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  unique_fd task() const { return open_directory((root / "task").string()); }
};

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(beneath)

BOOST_AUTO_TEST_CASE(opens_inside_and_refuses_escapes) {
  temp_tree t;
  auto task = t.task();
  BOOST_REQUIRE(task);
  auto file = open_beneath(task.get(), "local/dir/file", O_RDONLY);
  BOOST_REQUIRE(file);
  BOOST_TEST(read_all(file.get()) == "inside");

  BOOST_TEST(open_beneath(task.get(), "../outside/file", O_RDONLY).get() < 0);
  BOOST_TEST(errno == EXDEV);
  BOOST_TEST(open_beneath(task.get(), (t.root / "outside/file").string(), O_RDONLY).get() < 0);

  fs::create_symlink(t.root / "outside", t.root / "task/local/out");
  fs::create_symlink("dir", t.root / "task/local/in");
  BOOST_TEST(open_beneath(task.get(), "local/out/file", O_RDONLY, link_policy::inside).get() < 0);
  BOOST_TEST(open_beneath(task.get(), "local/in/file", O_RDONLY, link_policy::refuse).get() < 0);
  BOOST_TEST(errno == ELOOP);
  auto via_link = open_beneath(task.get(), "local/in/file", O_RDONLY, link_policy::inside);
  BOOST_REQUIRE(via_link);
  BOOST_TEST(read_all(via_link.get()) == "inside");
}

BOOST_AUTO_TEST_CASE(walk_visits_links_without_following_them) {
  temp_tree t;
  fs::create_symlink(t.root / "outside", t.root / "task/local/out");
  auto task = t.task();
  std::set<std::string> seen;
  walk_beneath(task.get(), [&](const walk_entry& e) {
    seen.insert(std::string(e.relative));
    return walk_step::enter;
  });
  BOOST_TEST(seen.count("local/out") == 1u);
  BOOST_TEST(seen.count("local/out/file") == 0u);
  BOOST_TEST(seen.count("local/dir/file") == 1u);
}

BOOST_AUTO_TEST_CASE(walk_refuses_trees_deeper_than_the_limit) {
  temp_tree t;
  auto task = t.task();
  BOOST_REQUIRE(make_dirs_beneath(task.get(), "a/b/c/d/e", 0755).get() >= 0);
  BOOST_CHECK_THROW(walk_beneath(
                        task.get(), [](const walk_entry&) { return walk_step::enter; }, 3),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(remove_leaves_link_targets_alone) {
  temp_tree t;
  fs::create_symlink(t.root / "outside", t.root / "task/local/dir/out");
  fs::create_directories(t.root / "task/local/dir/a/b/c");
  temp_tree::write(t.root / "task/local/dir/a/b/c/f", "x");
  auto task = t.task();
  BOOST_TEST(remove_beneath(task.get(), "local"));
  BOOST_TEST(!fs::exists(t.root / "task/local"));
  BOOST_TEST(fs::exists(t.root / "outside/file"));
}

BOOST_AUTO_TEST_CASE(make_dirs_never_passes_a_link) {
  temp_tree t;
  fs::create_symlink(t.root / "outside", t.root / "task/local/out");
  auto task = t.task();
  BOOST_TEST(make_dirs_beneath(task.get(), "local/out/new", 0755).get() < 0);
  BOOST_TEST(!fs::exists(t.root / "outside/new"));
  BOOST_TEST(make_dirs_beneath(task.get(), "local/x/y", 0700).get() >= 0);
  BOOST_TEST(fs::is_directory(t.root / "task/local/x/y"));
}

/// Another thread exchanges local/dir with a link to the outside folder as
/// fast as it can; no open through that name ever reaches outside/file.
BOOST_AUTO_TEST_CASE(a_folder_swapped_for_a_link_never_leads_outside) {
  temp_tree t;
  const auto swap_dir = t.root / "task/local/dir";
  const auto link = t.root / "task/local/link";
  fs::create_symlink(t.root / "outside", link);
  auto task = t.task();
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    while (!stop) ::renameat2(AT_FDCWD, swap_dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
  });
  int escapes = 0, opened = 0;
  for (int i = 0; i < 20000; ++i) {
    for (auto how : {link_policy::refuse, link_policy::inside}) {
      auto fd = open_beneath(task.get(), "local/dir/file", O_RDONLY, how);
      if (!fd) continue;
      ++opened;
      if (read_all(fd.get()) != "inside") ++escapes;
    }
  }
  stop = true;
  flipper.join();
  BOOST_TEST(escapes == 0);
  BOOST_TEST(opened > 0);
}

BOOST_AUTO_TEST_SUITE_END()
