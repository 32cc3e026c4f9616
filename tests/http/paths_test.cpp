#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include "adapters/http/http_error.hpp"
#include "adapters/http/paths.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::http;
using namespace nomad_iis::http::test;

namespace {

/// A task dir with local/index.html, secrets/token and an outside file.
struct task_tree {
  temp_dir t;
  path_scope scope;
  task_tree() {
    write_file(t / "task/local/index.html", "hi");
    write_file(t / "task/secrets/token", "s3cr3t");
    write_file(t / "outside/passwd", "root");
    scope.task_dir = t / "task";
    scope.secrets_dir = t / "task/secrets";
  }
  std::string real(const std::string& rel) const {
    char* r = ::realpath((t / rel).c_str(), nullptr);
    std::string s = r ? r : "";
    std::free(r);
    return s;
  }
};

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const http_error& e) {
    return e.status();
  }
  return 200;
}

std::vector<std::string> segs(std::initializer_list<const char*> s) {
  return {s.begin(), s.end()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(path_decoding)

BOOST_AUTO_TEST_CASE(one_segment_or_nested) {
  BOOST_TEST(decode_fs_path(segs({"local%2Findex.html"})) == "local/index.html");
  BOOST_TEST(decode_fs_path(segs({"local%2findex.html"})) == "local/index.html");
  BOOST_TEST(decode_fs_path(segs({"local", "index.html"})) == "local/index.html");
  BOOST_TEST(decode_fs_path(segs({"local", "a%20b.txt"})) == "local/a b.txt");
  BOOST_TEST(decode_fs_path(segs({"local", "a+b.txt"})) == "local/a+b.txt");
  BOOST_TEST(decode_fs_path(segs({})) == "");
  BOOST_TEST(decode_fs_path(segs({"100%25.txt"})) == "100%.txt");
}

BOOST_AUTO_TEST_CASE(bad_encodings_are_400) {
  for (auto s : {segs({"local%2"}), segs({"%zz"}), segs({"a%00b"}), segs({"%252e%252e", "x"}),
                 segs({"%252E%252E%252Fx"}), segs({"a%255c"}), segs({"a%5cb"}), segs({"a%0Ab"})}) {
    BOOST_TEST(status_of([&] { decode_fs_path(s); }) == 400, s.front());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(path_resolution)

BOOST_AUTO_TEST_CASE(inside_paths_resolve) {
  task_tree tree;
  auto r = resolve_path(tree.scope, "local/index.html");
  BOOST_TEST(r.exists);
  BOOST_TEST(!r.is_dir);
  BOOST_TEST(r.relative == "local/index.html");
  BOOST_TEST(r.target == tree.real("task/local/index.html"));
  auto d = resolve_path(tree.scope, "./local//");
  BOOST_TEST(d.is_dir);
  BOOST_TEST(d.relative == "local");
  auto root = resolve_path(tree.scope, "");
  BOOST_TEST(root.is_root());
  BOOST_TEST(root.target == tree.real("task"));
  auto missing = resolve_path(tree.scope, "local/new/deeper/file.txt");
  BOOST_TEST(!missing.exists);
  BOOST_TEST(missing.target == tree.real("task/local") + "/new/deeper/file.txt");
}

BOOST_AUTO_TEST_CASE(traversal_forms_are_400) {
  task_tree tree;
  for (const char* p : {"..", "../outside/passwd", "local/../../outside/passwd", "local/..",
                        "/etc/passwd", "local/../local", "a\\..\\b", "x/%2e%2e/y", "%2E%2E"}) {
    BOOST_TEST(status_of([&] { resolve_path(tree.scope, p); }) == 400, p);
  }
  // Through decoding: every encoded traversal form is refused somewhere.
  for (auto s : {segs({"..%2foutside%2fpasswd"}), segs({"%2e%2e", "outside"}), segs({"%2E%2E%2F"}),
                 segs({"local%2F..%2F..%2Foutside"}), segs({"%252e%252e%252foutside"}),
                 segs({"%2fetc%2fpasswd"}), segs({"local", "..", "..", "outside"})}) {
    BOOST_TEST(status_of([&] { resolve_path(tree.scope, decode_fs_path(s)); }) == 400, s.front());
  }
  BOOST_TEST(status_of([&] { resolve_path(tree.scope, "local/.nomad-iis-staging-abc123/x"); }) ==
             400);
  std::string nul("local/a\0b", 9);
  BOOST_TEST(status_of([&] { resolve_path(tree.scope, nul); }) == 400);
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
  for (const char* p : {"local/out", "local/out/passwd", "local/out/new.txt", "local/pw",
                        "local/root/etc", "local/root", "local/dangling"}) {
    BOOST_TEST(status_of([&] { resolve_path(tree.scope, p); }) == 400, p);
  }
  auto alias = resolve_path(tree.scope, "local/alias.html");
  BOOST_TEST(alias.is_symlink);
  BOOST_TEST(alias.target == tree.real("task/local/index.html"));
  BOOST_TEST(alias.absolute == tree.real("task/local") + "/alias.html");
  auto loop = resolve_path(tree.scope, "local/loop/loop/index.html");
  BOOST_TEST(loop.target == tree.real("task/local/index.html"));
  BOOST_TEST(status_of([&] { resolve_path(tree.scope, "local/sec/token"); }) == 403);
}

BOOST_AUTO_TEST_CASE(secrets_need_permission) {
  task_tree tree;
  for (const char* p :
       {"secrets", "secrets/token", "secrets/new", "./secrets/", "local/../secrets"}) {
    auto st = status_of([&] { resolve_path(tree.scope, p); });
    BOOST_TEST((st == 403 || st == 400), p);
  }
  BOOST_TEST(status_of([&] { resolve_path(tree.scope, "secrets/token"); }) == 403);
  tree.scope.allow_secrets = true;
  BOOST_TEST(resolve_path(tree.scope, "secrets/token").exists);
}

BOOST_AUTO_TEST_CASE(file_used_as_directory) {
  task_tree tree;
  BOOST_TEST(status_of([&] { resolve_path(tree.scope, "local/index.html/x"); }) == 400);
}

BOOST_AUTO_TEST_CASE(missing_task_dir_is_409) {
  path_scope scope{"/nonexistent/task", "/nonexistent/task/secrets", false};
  BOOST_TEST(status_of([&] { resolve_path(scope, "local"); }) == 409);
}

BOOST_AUTO_TEST_SUITE_END()
