// Resolution of API paths below a task directory through descriptors
// (iis/files/task_tree): traversal, symlinks, guarded folders, opening only
// what was resolved. Decoding of URL paths: tests/http/paths_test.cpp.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "iis/files/file_error.hpp"
#include "iis/files/task_tree.hpp"
#include "tests/files/task_files_util.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::files;
using nomad_iis::files::test::kind_of;
using namespace nomad_iis::http::test;

namespace {

/// A task dir with local/index.html, secrets/token, private/key and an
/// outside file.
struct task_tree {
  temp_dir t;
  bool allow_secrets = false;
  task_tree() {
    write_file(t / "task/local/index.html", "hi");
    write_file(t / "task/secrets/token", "s3cr3t");
    write_file(t / "task/private/key", "private");
    write_file(t / "outside/passwd", "root");
  }
  task_root root() const { return task_root(t / "task", "secrets", allow_secrets); }
  resolved_path resolve(std::string_view rel) const { return resolve_path(root(), rel); }
  file_id id(const std::string& rel) const {
    struct stat st {};
    BOOST_REQUIRE(::lstat((t / rel).c_str(), &st) == 0);
    return file_id::of(st);
  }
};

file_id id_of(const held_entry& e) {
  return file_id::of(e.st);
}

file_id id_of_fd(int fd) {
  struct stat st {};
  BOOST_REQUIRE(::fstat(fd, &st) == 0);
  return file_id::of(st);
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const file_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(path_resolution)

BOOST_AUTO_TEST_CASE(inside_paths_resolve) {
  task_tree tree;
  auto r = tree.resolve("local/index.html");
  BOOST_TEST(r.exists());
  BOOST_TEST(!r.is_dir());
  BOOST_TEST(r.relative == "local/index.html");
  BOOST_TEST((id_of(r.target()) == tree.id("task/local/index.html")));
  BOOST_TEST((id_of_fd(r.target().dir.get()) == tree.id("task/local")));
  BOOST_TEST(r.target().name == "index.html");
  auto d = tree.resolve("./local//");
  BOOST_TEST(d.is_dir());
  BOOST_TEST(d.relative == "local");
  auto root = tree.resolve("");
  BOOST_TEST(root.is_root());
  BOOST_TEST((id_of(root.target()) == tree.id("task")));
  auto missing = tree.resolve("local/new/deeper/file.txt");
  BOOST_TEST(!missing.exists());
  BOOST_TEST((id_of_fd(missing.target().dir.get()) == tree.id("task/local")));
  BOOST_TEST((missing.target().missing == std::vector<std::string>{"new", "deeper"}));
  BOOST_TEST(missing.target().name == "file.txt");
}

BOOST_AUTO_TEST_CASE(traversal_forms_are_400) {
  task_tree tree;
  for (const char* p : {"..", "../outside/passwd", "local/../../outside/passwd", "local/..",
                        "/etc/passwd", "local/../local", "a\\..\\b", "x/%2e%2e/y", "%2E%2E"}) {
    BOOST_TEST(kind_of([&] { tree.resolve(p); }) == "bad_request", p);
  }
  // Encoded forms, through the URL decoder: tests/http/paths_test.cpp.
  BOOST_TEST(kind_of([&] { tree.resolve("local/.nomad-iis-staging-abc123/x"); }) == "bad_request");
  std::string nul("local/a\0b", 9);
  BOOST_TEST(kind_of([&] { tree.resolve(nul); }) == "bad_request");
}

BOOST_AUTO_TEST_CASE(symlinks_out_are_400_inside_are_fine) {
  task_tree tree;
  BOOST_REQUIRE(::symlink((tree.t / "outside").c_str(), (tree.t / "task/local/out").c_str()) == 0);
  BOOST_REQUIRE(::symlink("../../outside/passwd", (tree.t / "task/local/pw").c_str()) == 0);
  BOOST_REQUIRE(::symlink("/", (tree.t / "task/local/root").c_str()) == 0);
  BOOST_REQUIRE(::symlink("index.html", (tree.t / "task/local/alias.html").c_str()) == 0);
  BOOST_REQUIRE(::symlink("nowhere", (tree.t / "task/local/dangling").c_str()) == 0);
  BOOST_REQUIRE(::symlink("../local", (tree.t / "task/local/loop").c_str()) == 0);
  BOOST_REQUIRE(::symlink("../secrets", (tree.t / "task/local/sec").c_str()) == 0);
  BOOST_REQUIRE(::symlink("self", (tree.t / "task/local/self").c_str()) == 0);
  for (const char* p :
       {"local/out", "local/out/passwd", "local/out/new.txt", "local/pw", "local/root/etc",
        "local/root", "local/dangling", "local/dangling/x", "local/self"}) {
    BOOST_TEST(kind_of([&] { tree.resolve(p); }) == "bad_request", p);
  }
  BOOST_TEST(message_of([&] { tree.resolve("local/out/passwd"); }).find("outside") !=
             std::string::npos);
  auto alias = tree.resolve("local/alias.html");
  BOOST_TEST(alias.is_symlink());
  BOOST_TEST((id_of(alias.target()) == tree.id("task/local/index.html")));
  BOOST_TEST((id_of(alias.entry) == tree.id("task/local/alias.html")));
  BOOST_TEST((id_of_fd(alias.entry.dir.get()) == tree.id("task/local")));
  BOOST_TEST(alias.entry.name == "alias.html");
  auto loop = tree.resolve("local/loop/loop/index.html");
  BOOST_TEST((id_of(loop.target()) == tree.id("task/local/index.html")));
  BOOST_TEST(kind_of([&] { tree.resolve("local/sec/token"); }) == "forbidden");
  BOOST_TEST(kind_of([&] { tree.resolve("local/sec"); }) == "forbidden");
}

BOOST_AUTO_TEST_CASE(dot_dot_in_a_link_stays_on_the_held_folders) {
  task_tree tree;
  write_file(tree.t / "task/local/sub/deep/f.txt", "f");
  BOOST_REQUIRE(::symlink("..", (tree.t / "task/local/sub/deep/up").c_str()) == 0);
  BOOST_REQUIRE(::symlink("../..", (tree.t / "task/local/top").c_str()) == 0);
  BOOST_REQUIRE(::symlink("..", (tree.t / "task/local/parent").c_str()) == 0);
  auto up = tree.resolve("local/sub/deep/up");
  BOOST_TEST((id_of(up.target()) == tree.id("task/local/sub")));
  BOOST_TEST((id_of_fd(up.target().dir.get()) == tree.id("task/local")));
  BOOST_TEST(up.target().name == "sub");
  BOOST_TEST((id_of(tree.resolve("local/sub/deep/up/deep/f.txt").target()) ==
              tree.id("task/local/sub/deep/f.txt")));
  auto root = tree.resolve("local/parent");
  BOOST_TEST((id_of(root.target()) == tree.id("task")));
  BOOST_TEST(!root.target().dir);  // the task dir itself: nothing holds it
  BOOST_TEST(kind_of([&] { tree.resolve("local/top"); }) == "bad_request");
  BOOST_TEST(kind_of([&] { tree.resolve("local/top/x"); }) == "bad_request");
}

BOOST_AUTO_TEST_CASE(absolute_links_inside_the_task_are_followed) {
  task_tree tree;
  BOOST_REQUIRE(::symlink((tree.t / "task/local/index.html").c_str(),
                          (tree.t / "task/local/abs.html").c_str()) == 0);
  BOOST_REQUIRE(::symlink((tree.t / "task/local").c_str(), (tree.t / "task/abs-dir").c_str()) == 0);
  BOOST_TEST((id_of(tree.resolve("local/abs.html").target()) == tree.id("task/local/index.html")));
  BOOST_TEST(
      (id_of(tree.resolve("abs-dir/index.html").target()) == tree.id("task/local/index.html")));
}

BOOST_AUTO_TEST_CASE(secrets_need_permission) {
  task_tree tree;
  for (const char* p :
       {"secrets", "secrets/token", "secrets/new", "./secrets/", "local/../secrets"}) {
    auto kind = kind_of([&] { tree.resolve(p); });
    BOOST_TEST((kind == "forbidden" || kind == "bad_request"), p);
  }
  BOOST_TEST(kind_of([&] { tree.resolve("secrets/token"); }) == "forbidden");
  BOOST_TEST(message_of([&] { tree.resolve("secrets/token"); }).find("secrets") !=
             std::string::npos);
  tree.allow_secrets = true;
  BOOST_TEST(tree.resolve("secrets/token").exists());
}

BOOST_AUTO_TEST_CASE(secrets_are_known_by_identity) {
  task_tree tree;
  BOOST_REQUIRE(::symlink((tree.t / "task/secrets").c_str(), (tree.t / "task/local/abs").c_str()) ==
                0);
  BOOST_TEST(kind_of([&] { tree.resolve("local/abs/token"); }) == "forbidden");
  // A request saw secrets/; then the app renames it and makes a decoy.
  (void)tree.root();
  BOOST_REQUIRE(::rename((tree.t / "task/secrets").c_str(), (tree.t / "task/renamed").c_str()) ==
                0);
  BOOST_REQUIRE(::mkdir((tree.t / "task/secrets").c_str(), 0755) == 0);
  BOOST_REQUIRE(::symlink("../renamed", (tree.t / "task/local/to-renamed").c_str()) == 0);
  for (const char* p : {"renamed", "renamed/token", "renamed/new.txt", "local/to-renamed/token",
                        "secrets", "secrets/x"})
    BOOST_TEST(kind_of([&] { tree.resolve(p); }) == "forbidden", p);
  // Moved below local/ (what a task owning secrets/ could do).
  BOOST_REQUIRE(
      ::rename((tree.t / "task/renamed").c_str(), (tree.t / "task/local/deeper").c_str()) == 0);
  BOOST_TEST(kind_of([&] { tree.resolve("local/deeper/token"); }) == "forbidden");
  tree.allow_secrets = true;
  BOOST_TEST(tree.resolve("local/deeper/token").exists());
}

BOOST_AUTO_TEST_CASE(private_is_always_refused) {
  task_tree tree;
  BOOST_REQUIRE(::symlink("../private", (tree.t / "task/local/priv").c_str()) == 0);
  BOOST_REQUIRE(
      ::symlink((tree.t / "task/private/key").c_str(), (tree.t / "task/local/key").c_str()) == 0);
  for (bool allow : {false, true}) {
    tree.allow_secrets = allow;
    for (const char* p : {"private", "private/key", "private/new.txt", "./private/", "local/priv",
                          "local/priv/key", "local/priv/new.txt", "local/key"}) {
      BOOST_TEST(kind_of([&] { tree.resolve(p); }) == "forbidden", p);
      BOOST_TEST(message_of([&] { tree.resolve(p); }).find("private") != std::string::npos, p);
    }
  }
  // Renamed after a request saw it.
  BOOST_REQUIRE(::rename((tree.t / "task/private").c_str(), (tree.t / "task/p2").c_str()) == 0);
  BOOST_TEST(kind_of([&] { tree.resolve("p2/key"); }) == "forbidden");
}

BOOST_AUTO_TEST_CASE(file_used_as_directory) {
  task_tree tree;
  BOOST_TEST(kind_of([&] { tree.resolve("local/index.html/x"); }) == "bad_request");
}

BOOST_AUTO_TEST_CASE(missing_task_dir_is_409) {
  BOOST_TEST(kind_of([&] { task_root("/nonexistent/task", "secrets", false); }) == "conflict");
}

BOOST_AUTO_TEST_CASE(files_open_only_as_resolved) {
  task_tree tree;
  auto r = tree.resolve("local/index.html");
  auto fd = open_regular_file(r.target(), r.relative);
  char buf[8] = {};
  BOOST_TEST(::read(fd.get(), buf, sizeof buf) == 2);
  BOOST_TEST(std::string(buf) == "hi");
  // Replaced after resolution: refused, not the new object.
  auto again = tree.resolve("local/index.html");
  BOOST_REQUIRE(::rename((tree.t / "task/local/index.html").c_str(),
                         (tree.t / "task/local/old.html").c_str()) == 0);
  write_file(tree.t / "task/local/index.html", "new");
  BOOST_TEST(kind_of([&] { open_regular_file(again.target(), again.relative); }) == "conflict");
  // Replaced by a link: refused too (O_NOFOLLOW).
  auto third = tree.resolve("local/index.html");
  BOOST_REQUIRE(::unlink((tree.t / "task/local/index.html").c_str()) == 0);
  BOOST_REQUIRE(::symlink((tree.t / "outside/passwd").c_str(),
                          (tree.t / "task/local/index.html").c_str()) == 0);
  BOOST_TEST(kind_of([&] { open_regular_file(third.target(), third.relative); }) == "conflict");
  BOOST_TEST(kind_of([&] { open_regular_file(tree.resolve("local").target(), "local"); }) ==
             "bad_request");
}

BOOST_AUTO_TEST_CASE(missing_parents_are_made_without_following_links) {
  task_tree tree;
  auto root = tree.root();
  auto r = resolve_path(root, "local/a/b/c.txt");
  auto parent = open_parent(root, r.target());
  BOOST_TEST((id_of_fd(parent.get()) == tree.id("task/local/a/b")));
  // A link put where a missing folder was expected is not followed.
  auto r2 = resolve_path(root, "local/x/y.txt");
  BOOST_REQUIRE(::symlink((tree.t / "outside").c_str(), (tree.t / "task/local/x").c_str()) == 0);
  BOOST_TEST(kind_of([&] { open_parent(root, r2.target()); }) == "conflict");
}

BOOST_AUTO_TEST_SUITE_END()
