#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <Poco/MemoryStream.h>
#include <Poco/Net/HTTPRequest.h>

#include "adapters/http/framing.hpp"
#include "adapters/http/status_poll.hpp"

using namespace nomad_iis::http;

namespace {

const auto now = std::chrono::system_clock::now();
const authenticator auth("k3y", "");

std::string put(const std::string& headers) {
  return "PUT /api/v1/allocs/a/t/fs/x HTTP/1.1\r\nHost: h\r\nX-Api-Key: k3y\r\n" + headers + "\r\n";
}

/// What Poco's parser makes of a header block, then the framing check.
std::optional<std::string> parsed_problem(const std::string& head) {
  Poco::Net::HTTPRequest request;
  Poco::MemoryInputStream in(head.data(), head.size());
  request.read(in);
  return framing_problem(request);
}

/// Both checks, as the reactor runs them.
std::optional<std::string> problem(const std::string& head) {
  if (auto p = header_lines_problem(head)) return p;
  return parsed_problem(head);
}

bool mentions(const std::optional<std::string>& text, const std::string& part) {
  return text && text->find(part) != std::string::npos;
}

request_verdict judge(const std::string& bytes, std::size_t max_head = 64 << 10) {
  return judge_request(bytes, max_head, auth, now);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(framing)

BOOST_AUTO_TEST_CASE(the_header_block_ends_at_the_first_empty_line) {
  BOOST_TEST(!header_block_end("GET / HTTP/1.1\r\nHost: h\r\n").has_value());
  BOOST_TEST(!header_block_end("GET / HTTP/1.1\r\nHost: h\r\n\r").has_value());
  BOOST_TEST(*header_block_end("GET / HTTP/1.1\r\nHost: h\r\n\r\nbody") == 27u);
  BOOST_TEST(*header_block_end("GET / HTTP/1.1\nHost: h\n\nbody") == 24u);
  // Line breaks before the request line are skipped, as Poco does.
  BOOST_TEST(*header_block_end("\r\nGET / HTTP/1.1\r\n\r\n") == 20u);
}

BOOST_AUTO_TEST_CASE(well_framed_requests_pass) {
  BOOST_TEST(!problem(put("Content-Length: 5\r\n")).has_value());
  BOOST_TEST(!problem(put("Content-Length:5 \r\n")).has_value());  // optional whitespace
  BOOST_TEST(!problem(put("Transfer-Encoding: chunked\r\n")).has_value());
  BOOST_TEST(!problem(put("transfer-encoding: Chunked\r\n")).has_value());
  BOOST_TEST(
      !problem(put("X-Odd_Name!#$%&'*+.^`|~: a \"quoted\" value\twith tab\r\n")).has_value());
  BOOST_TEST(!problem(put("X-Latin: caf\xc3\xa9\r\n")).has_value());  // obs-text
  BOOST_TEST(!problem("GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n").has_value());
}

BOOST_AUTO_TEST_CASE(conflicting_or_duplicate_content_lengths_are_refused) {
  // Poco keeps the first of two and would read a 5-byte body.
  BOOST_TEST(
      mentions(problem(put("Content-Length: 5\r\nContent-Length: 7\r\n")), "more than once"));
  BOOST_TEST(
      mentions(problem(put("Content-Length: 5\r\ncontent-length: 5\r\n")), "more than once"));
  BOOST_TEST(mentions(problem(put("Content-Length: +5\r\n")), "malformed value"));
  BOOST_TEST(mentions(problem(put("Content-Length: 5, 5\r\n")), "malformed value"));
  BOOST_TEST(mentions(problem(put("Content-Length: \r\n")), "malformed value"));
}

BOOST_AUTO_TEST_CASE(transfer_encodings_other_than_chunked_alone_are_refused) {
  BOOST_TEST(
      mentions(problem(put("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")), "both given"));
  BOOST_TEST(mentions(problem(put("Transfer-Encoding: gzip, chunked\r\n")), "only \"chunked\""));
  BOOST_TEST(mentions(problem(put("Transfer-Encoding: identity\r\n")), "only \"chunked\""));
  BOOST_TEST(mentions(problem(put("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
                      "more than once"));
}

BOOST_AUTO_TEST_CASE(malformed_header_names_are_refused_raw_and_parsed) {
  // Poco keeps "Transfer-Encoding " as a name of its own.
  const auto spaced = put("Transfer-Encoding : chunked\r\n");
  BOOST_TEST(mentions(header_lines_problem(spaced), "not a token"));
  BOOST_TEST(mentions(parsed_problem(spaced), "not a token"));  // TLS connections get this one
  BOOST_TEST(mentions(problem(put("Transfer-Encoding\t: chunked\r\n")), "not a token"));
  BOOST_TEST(mentions(problem(put("X(y): 1\r\n")), "not a token"));
  BOOST_TEST(mentions(problem(put("X\x01: 1\r\n")), "\\x01"));
  BOOST_TEST(mentions(header_lines_problem(put(": no name\r\n")), "not a token"));
}

BOOST_AUTO_TEST_CASE(folded_lines_and_lines_without_a_colon_are_refused) {
  // Poco would join the first into "1 folded" and skip the second.
  BOOST_TEST(mentions(header_lines_problem(put("X-A: 1\r\n folded\r\n")), "line folding"));
  BOOST_TEST(mentions(header_lines_problem(put("X-A: 1\r\n\tfolded\r\n")), "line folding"));
  BOOST_TEST(mentions(header_lines_problem(put("Transfer-Encoding chunked\r\n")), "no colon"));
  BOOST_TEST(mentions(header_lines_problem(put("X-A: a\rb\r\n")), "bare CR"));
  BOOST_TEST(mentions(header_lines_problem(put("X-A: a\x7f\r\n")), "control character"));
}

BOOST_AUTO_TEST_CASE(the_reactor_waits_refuses_answers_or_hands_over) {
  const std::string poll =
      "GET /api/v1/allocs/a/t/status HTTP/1.1\r\nHost: h\r\nX-Api-Key: k3y\r\n\r\n";
  BOOST_TEST(static_cast<int>(judge(poll.substr(0, 30)).what) ==
             static_cast<int>(request_verdict::action::wait));
  BOOST_TEST(static_cast<int>(judge(poll).what) ==
             static_cast<int>(request_verdict::action::answer));
  BOOST_TEST(static_cast<int>(judge(put("Content-Length: 1\r\n") + "x").what) ==
             static_cast<int>(request_verdict::action::to_thread));
  auto conflicting = judge(put("Content-Length: 1\r\nContent-Length: 2\r\n"));
  BOOST_TEST(static_cast<int>(conflicting.what) ==
             static_cast<int>(request_verdict::action::refuse));
  BOOST_TEST(conflicting.status == 400);
  BOOST_TEST(conflicting.code == "bad_request");
  // A status poll with a bad line is refused, not answered.
  auto folded =
      judge("GET /api/v1/allocs/a/t/status HTTP/1.1\r\nHost: h\r\nX-Api-Key: k3y\r\n x\r\n\r\n");
  BOOST_TEST(folded.status == 400);
  // Headers that never end within the limit: 431 once the limit is reached.
  const std::string endless = "GET / HTTP/1.1\r\nX-Pad: " + std::string(200, 'p');
  BOOST_TEST(static_cast<int>(judge(endless, 1024).what) ==
             static_cast<int>(request_verdict::action::wait));
  auto big = judge(endless + std::string(1024, 'p'), 1024);
  BOOST_TEST(big.status == 431);
  BOOST_TEST(big.code == "headers_too_large");
  // What Poco itself refuses (a value over 8 KiB) is left to the thread,
  // which answers with Poco's reason.
  BOOST_TEST(static_cast<int>(judge(put("X-Big: " + std::string(9000, 'b') + "\r\n")).what) ==
             static_cast<int>(request_verdict::action::to_thread));
}

BOOST_AUTO_TEST_SUITE_END()
