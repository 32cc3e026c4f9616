// Management API paths as they arrive in the URL: decoded once, refused
// with the status and JSON error the API answers (including refusals by the
// task files module, mapped by error_status.cpp). Resolution itself:
// tests/files/task_tree_test.cpp.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <functional>

#include "adapters/http/error_status.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/paths.hpp"
#include "iis/files/task_tree.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::http;
using namespace nomad_iis::http::test;
namespace files = nomad_iis::files;
namespace inspect = nomad_iis::inspect;

namespace {

/// The status the API answers when `f` throws, 200 when it does not.
int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const http_error& e) {
    return e.status();
  } catch (const files::file_error& e) {
    return to_http_error(e).status();
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

BOOST_AUTO_TEST_CASE(encoded_traversal_is_400_once_resolved) {
  temp_dir t;
  write_file(t / "task/local/index.html", "hi");
  write_file(t / "outside/passwd", "root");
  const files::task_root root(t / "task", "secrets", false);
  // Through decoding: every encoded traversal form is refused somewhere.
  for (auto s : {segs({"..%2foutside%2fpasswd"}), segs({"%2e%2e", "outside"}), segs({"%2E%2E%2F"}),
                 segs({"local%2F..%2F..%2Foutside"}), segs({"%252e%252e%252foutside"}),
                 segs({"%2fetc%2fpasswd"}), segs({"local", "..", "..", "outside"})}) {
    BOOST_TEST(status_of([&] { files::resolve_path(root, decode_fs_path(s)); }) == 400, s.front());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(module_errors)

/// Every kind of the files and inspect modules answers the status the API
/// gave before they were modules, with their code and message unchanged.
BOOST_AUTO_TEST_CASE(kinds_map_to_the_apis_statuses) {
  using files::file_errc;
  const std::pair<file_errc, int> file_statuses[] = {
      {file_errc::bad_request, 400}, {file_errc::forbidden, 403},       {file_errc::not_found, 404},
      {file_errc::conflict, 409},    {file_errc::length_required, 411}, {file_errc::too_large, 413},
      {file_errc::no_space, 507},    {file_errc::internal, 500}};
  for (const auto& [kind, status] : file_statuses) {
    const auto mapped = to_http_error(files::file_error(kind, "some_code", "some message"));
    BOOST_TEST(mapped.status() == status, files::to_string(kind));
    BOOST_TEST(mapped.code() == "some_code");
    BOOST_TEST(std::string(mapped.what()) == "some message");
  }
  BOOST_TEST(to_http_error(files::forbidden("no")).code() == "forbidden");
  BOOST_TEST(to_http_error(files::not_found("gone")).code() == "not_found");

  using inspect::inspect_errc;
  const std::pair<inspect_errc, int> inspect_statuses[] = {
      {inspect_errc::bad_request, 400}, {inspect_errc::failed, 502},
      {inspect_errc::unavailable, 503}, {inspect_errc::timeout, 504},
      {inspect_errc::internal, 500},    {inspect_errc::not_found, 404},
      {inspect_errc::conflict, 409}};
  for (const auto& [kind, status] : inspect_statuses) {
    const auto mapped =
        to_http_error(inspect::inspect_error(kind, "screenshot_timeout", "too slow"));
    BOOST_TEST(mapped.status() == status, inspect::to_string(kind));
    BOOST_TEST(mapped.code() == "screenshot_timeout");
    BOOST_TEST(std::string(mapped.what()) == "too slow");
  }
}

BOOST_AUTO_TEST_SUITE_END()
