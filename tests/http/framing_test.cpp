#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "adapters/http/framing.hpp"

using namespace nomad_iis::http;

namespace {

std::string put(const std::string& headers) {
  return "PUT /api/v1/allocs/a/t/fs/x HTTP/1.1\r\nHost: h\r\nX-Api-Key: k3y\r\n" + headers + "\r\n";
}

/// Both checks, as a connection runs them on a header block before Beast
/// parses it.
std::optional<std::string> problem(const std::string& head) {
  if (auto p = header_lines_problem(head)) return p;
  return framing_problem(head);
}

bool mentions(const std::optional<std::string>& text, const std::string& part) {
  return text && text->find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(framing)

BOOST_AUTO_TEST_CASE(the_header_block_ends_at_the_first_empty_line) {
  BOOST_TEST(!header_block_end("GET / HTTP/1.1\r\nHost: h\r\n").has_value());
  BOOST_TEST(!header_block_end("GET / HTTP/1.1\r\nHost: h\r\n\r").has_value());
  BOOST_TEST(*header_block_end("GET / HTTP/1.1\r\nHost: h\r\n\r\nbody") == 27u);
  BOOST_TEST(*header_block_end("GET / HTTP/1.1\nHost: h\n\nbody") == 24u);
  // Line breaks before the request line are skipped, as RFC 9112 allows.
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
  // A lenient parser keeps the first of two and would read a 5-byte body.
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
  // A lenient parser keeps "Transfer-Encoding " as a name of its own.
  const auto spaced = put("Transfer-Encoding : chunked\r\n");
  BOOST_TEST(mentions(header_lines_problem(spaced), "not a token"));
  BOOST_TEST(mentions(problem(spaced), "not a token"));  // TLS connections too
  BOOST_TEST(mentions(problem(put("Transfer-Encoding\t: chunked\r\n")), "not a token"));
  BOOST_TEST(mentions(problem(put("X(y): 1\r\n")), "not a token"));
  BOOST_TEST(mentions(problem(put("X\x01: 1\r\n")), "\\x01"));
  BOOST_TEST(mentions(header_lines_problem(put(": no name\r\n")), "not a token"));
}

BOOST_AUTO_TEST_CASE(folded_lines_and_lines_without_a_colon_are_refused) {
  // A lenient parser would join the first into "1 folded" and skip the second.
  BOOST_TEST(mentions(header_lines_problem(put("X-A: 1\r\n folded\r\n")), "line folding"));
  BOOST_TEST(mentions(header_lines_problem(put("X-A: 1\r\n\tfolded\r\n")), "line folding"));
  BOOST_TEST(mentions(header_lines_problem(put("Transfer-Encoding chunked\r\n")), "no colon"));
  BOOST_TEST(mentions(header_lines_problem(put("X-A: a\rb\r\n")), "bare CR"));
  BOOST_TEST(mentions(header_lines_problem(put("X-A: a\x7f\r\n")), "control character"));
}

BOOST_AUTO_TEST_SUITE_END()
