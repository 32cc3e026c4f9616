#pragma once
// Strict request framing for the Management API. A proxy in front may read
// an ambiguous request differently from our parser (two Content-Length
// headers, a header name with a space before its colon, folded lines, lines
// without a colon), so these are refused (400), naming the problem, before
// anything acts on them. Parsing stays Beast's; these are validation passes
// over the header block as it arrived.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace nomad_iis::http {

/// The end of the header block at the start of `bytes` (the offset just past
/// its empty line), or nullopt while it is incomplete.
std::optional<std::size_t> header_block_end(std::string_view bytes);

/// The version token of a header block's request line ("HTTP/1.1"; what
/// follows the target, whatever it is).
std::string_view request_version(std::string_view head);

/// What is wrong with the lines of a complete header block (request line
/// first): folded lines, lines without a colon, header names that are not
/// RFC 9110 tokens (whitespace before the colon), control characters in
/// values. nullopt when nothing is.
std::optional<std::string> header_lines_problem(std::string_view head);

/// What is wrong with the framing headers of a header block that
/// header_lines_problem accepted: Content-Length more than once (even with
/// equal values) or not a decimal number, Transfer-Encoding together with
/// Content-Length, more than once, or other than exactly `chunked`.
/// nullopt when nothing is.
std::optional<std::string> framing_problem(std::string_view head);

}  // namespace nomad_iis::http
