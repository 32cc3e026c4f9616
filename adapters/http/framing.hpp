#pragma once
// Strict request framing for the Management API. Poco's parser is lenient:
// it keeps the first of two Content-Length headers, keeps a header name with
// a space before its colon (so "Transfer-Encoding : chunked" is a different,
// unknown header), joins folded lines and skips lines without a colon. A
// proxy in front may read such a request differently, so these are refused
// (400) before anything acts on them. Parsing stays Poco's; these are
// validation passes over what arrived and what Poco made of it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace Poco::Net {
class MessageHeader;
}  // namespace Poco::Net

namespace nomad_iis::http {

/// The end of the header block at the start of `bytes` (the offset just past
/// its empty line), or nullopt while it is incomplete.
std::optional<std::size_t> header_block_end(std::string_view bytes);

/// What is wrong with the lines of a complete header block (request line
/// first): folded lines, lines without a colon, header names that are not
/// RFC 9110 tokens (whitespace before the colon), control characters in
/// values. nullopt when nothing is.
std::optional<std::string> header_lines_problem(std::string_view head);

/// What is wrong with the headers Poco parsed: names that are not tokens,
/// Content-Length more than once (even with equal values) or not a decimal
/// number, Transfer-Encoding together with Content-Length, more than once,
/// or other than exactly `chunked`. nullopt when nothing is.
std::optional<std::string> framing_problem(const Poco::Net::MessageHeader& headers);

}  // namespace nomad_iis::http
