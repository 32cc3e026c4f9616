#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPResponse.h>

#include "adapters/http/api_context.hpp"
#include "adapters/http/status_poll.hpp"
#include "tests/http/jwt_util.hpp"

using namespace nomad_iis::http;

namespace {

const auto now = std::chrono::system_clock::now();
const std::string path = "/api/v1/allocs/alloc-1/web%2Dtask/status";

std::string request(const std::string& target = path,
                    const std::string& extra = "X-Api-Key: k3y\r\n",
                    const std::string& line_start = "GET ",
                    const std::string& version = "HTTP/1.1") {
  return line_start + target + " " + version + "\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

std::optional<status_poll> recognize(const std::string& bytes,
                                     const authenticator& auth = authenticator("k3y", "")) {
  return recognize_status_poll(bytes, auth, now);
}

status_answer answer_for(const std::string& ns, const std::string& job) {
  status_answer a;
  a.task.alloc_id = "alloc-1";
  a.task.task_name = "web-task";
  a.task.namespace_name = ns;
  a.task.job_name = job;
  a.body = R"({"allocId":"alloc-1"})";
  return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_poll_suite)

BOOST_AUTO_TEST_CASE(a_complete_status_request_is_recognised_with_its_length) {
  const auto one = request();
  auto poll = recognize(one + request("/api/v1/allocs"));  // pipelined: only the first counts
  BOOST_REQUIRE(poll);
  BOOST_TEST(poll->request_bytes == one.size());
  BOOST_TEST(poll->task.first == "alloc-1");
  BOOST_TEST(poll->task.second == "web-task");  // decoded
  BOOST_TEST(poll->who.unrestricted);
}

BOOST_AUTO_TEST_CASE(requests_the_thread_path_answers_are_left_alone) {
  const auto full = request();
  BOOST_TEST(!recognize(full.substr(0, full.size() - 2)).has_value());  // headers not complete yet
  BOOST_TEST(!recognize(request(path, "")).has_value());                // no credentials: 401 there
  BOOST_TEST(!recognize(request(path, "X-Api-Key: wrong\r\n")).has_value());
  BOOST_TEST(!recognize(request(path, "X-Api-Key: k3y\r\nConnection: close\r\n")).has_value());
  BOOST_TEST(!recognize(request(path, "X-Api-Key: k3y\r\nContent-Length: 3\r\n")).has_value());
  BOOST_TEST(
      !recognize(request(path, "X-Api-Key: k3y\r\nTransfer-Encoding: chunked\r\n")).has_value());
  BOOST_TEST(!recognize(request(path, "X-Api-Key: k3y\r\nExpect: 100-continue\r\n")).has_value());
  BOOST_TEST(!recognize(request(path + "?x=1")).has_value());
  BOOST_TEST(!recognize(request(path, "X-Api-Key: k3y\r\n", "PUT ")).has_value());
  BOOST_TEST(!recognize(request(path, "X-Api-Key: k3y\r\n", "HEAD ")).has_value());
  BOOST_TEST(!recognize(request(path, "X-Api-Key: k3y\r\n", "GET ", "HTTP/1.0")).has_value());
  BOOST_TEST(!recognize(request("/api/v1/allocs/alloc-1/web/start")).has_value());
  BOOST_TEST(!recognize(request("/api/v1/allocs/alloc-1/web/fs/status")).has_value());
  BOOST_TEST(!recognize(request("/api/v1/allocs/alloc-1/web/status/x")).has_value());
  BOOST_TEST(!recognize(request("/api/v1/allocs/%zz/web/status")).has_value());  // 400 there
  BOOST_TEST(!recognize("GET " + path + " HTTP/1.1\r\nBad Header\r\n\r\n").has_value());
  BOOST_TEST(
      !recognize("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n").has_value());  // TLS hello
}

BOOST_AUTO_TEST_CASE(tokens_need_the_status_capability_and_the_allocation) {
  authenticator jwt("", test::jwt_secret);
  auto bearer = [](const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; };
  BOOST_TEST(recognize(request(path, bearer(test::make_jwt(now))), jwt).has_value());
  auto other_alloc =
      test::make_jwt(now, [](Poco::JWT::Token& t) { t.payload().set("allocId", "b"); });
  BOOST_TEST(!recognize(request(path, bearer(other_alloc)), jwt).has_value());
  auto no_status = test::make_jwt(now, [](Poco::JWT::Token& t) {
    Poco::JSON::Array::Ptr caps = new Poco::JSON::Array;
    caps->add("FilesystemAccess");
    t.payload().set("capabilities", caps);
  });
  BOOST_TEST(!recognize(request(path, bearer(no_status)), jwt).has_value());
  auto expired = test::make_jwt(
      now, [](Poco::JWT::Token& t) { t.setExpiration(test::at(now - std::chrono::hours(1))); });
  BOOST_TEST(!recognize(request(path, bearer(expired)), jwt).has_value());
}

BOOST_AUTO_TEST_CASE(the_response_is_what_send_json_sends) {
  auto poll = recognize(request());
  BOOST_REQUIRE(poll);
  const auto answer = answer_for("default", "web");
  for (bool keep_alive : {true, false}) {
    auto bytes = status_poll_response(*poll, answer, "Thu, 03 Dec 2026 09:00:00 GMT", keep_alive);
    BOOST_REQUIRE(bytes);
    std::istringstream in(*bytes);
    Poco::Net::HTTPResponse parsed;
    parsed.read(in);
    BOOST_TEST(parsed.getStatus() == Poco::Net::HTTPResponse::HTTP_OK);
    BOOST_TEST(parsed.getVersion() == "HTTP/1.1");
    BOOST_TEST(parsed.getContentType() == "application/json; charset=utf-8");
    BOOST_TEST(parsed.getContentLength() == static_cast<std::streamsize>(answer.body.size()));
    BOOST_TEST(parsed.get("Date") == "Thu, 03 Dec 2026 09:00:00 GMT");
    BOOST_TEST(parsed.getKeepAlive() == keep_alive);
    std::string body(std::istreambuf_iterator<char>(in), {});
    BOOST_TEST(body == answer.body);
  }
}

BOOST_AUTO_TEST_CASE(a_task_outside_the_token_s_job_gets_no_answer_here) {
  authenticator jwt("", test::jwt_secret);
  auto poll =
      recognize(request(path, "Authorization: Bearer " + test::make_jwt(now) + "\r\n"), jwt);
  BOOST_REQUIRE(poll);
  BOOST_TEST(status_poll_response(*poll, answer_for("default", "web"), "d", true).has_value());
  BOOST_TEST(
      !status_poll_response(*poll, answer_for("default", "other-job"), "d", true).has_value());
  BOOST_TEST(!status_poll_response(*poll, answer_for("prod", "web"), "d", true).has_value());
}

BOOST_AUTO_TEST_CASE(the_date_is_an_http_date_of_now) {
  http_date_clock clock;
  const auto first = clock.now();
  BOOST_TEST(first.size() == std::string("Thu, 03 Dec 2026 09:00:00 GMT").size());
  BOOST_TEST(first.substr(first.size() - 4) == " GMT");
  BOOST_TEST(&clock.now() == &clock.now());  // the same text within a second
}

BOOST_AUTO_TEST_SUITE_END()
