#include "adapters/http/framing.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <strings.h>

namespace nomad_iis::http {
namespace {

/// RFC 9110 tchar.
bool is_token_char(unsigned char c) {
  return std::isalnum(c) || (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool is_token(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return is_token_char(static_cast<unsigned char>(c));
  });
}

/// Printable for a message: a header name with its odd characters shown.
std::string shown(std::string_view name) {
  std::string out = "\"";
  for (unsigned char c : name.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out + "\"";
}

std::string bad_name(std::string_view name) {
  return "the header name " + shown(name) +
         " is not a token (no whitespace before the colon, no separators or control characters)";
}

/// Field values hold visible characters, spaces, tabs and obs-text.
bool has_control_character(std::string_view value) {
  return std::any_of(value.begin(), value.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

std::size_t leading_line_breaks(std::string_view bytes) {
  std::size_t at = 0;
  while (at < bytes.size() && (bytes[at] == '\r' || bytes[at] == '\n')) ++at;
  return at;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

/// The name and trimmed value of each line of a header block that
/// header_lines_problem accepted (request line removed), up to its end.
std::vector<std::pair<std::string_view, std::string_view>> header_fields(std::string_view lines) {
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  while (!lines.empty()) {
    const auto eol = lines.find('\n');
    auto line = lines.substr(0, eol);
    lines.remove_prefix(eol == std::string_view::npos ? lines.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto colon = line.find(':');
    if (line.empty() || colon == std::string_view::npos) break;
    fields.emplace_back(line.substr(0, colon), trimmed(line.substr(colon + 1)));
  }
  return fields;
}

}  // namespace

std::optional<std::size_t> header_block_end(std::string_view bytes) {
  // Poco skips line breaks before the request line, as RFC 9112 allows.
  const auto start = leading_line_breaks(bytes);
  for (auto at = bytes.find('\n', start); at != std::string_view::npos;
       at = bytes.find('\n', at + 1)) {
    if (at + 1 < bytes.size() && bytes[at + 1] == '\n') return at + 2;
    if (at + 2 < bytes.size() && bytes[at + 1] == '\r' && bytes[at + 2] == '\n') return at + 3;
  }
  return std::nullopt;
}

std::string_view request_version(std::string_view head) {
  head.remove_prefix(leading_line_breaks(head));
  auto line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto space = line.rfind(' ');
  return space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
}

std::optional<std::string> header_lines_problem(std::string_view head) {
  head.remove_prefix(leading_line_breaks(head));
  bool request_line = true;
  while (!head.empty()) {
    const auto eol = head.find('\n');
    auto line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos)
      return std::string("a header line holds a bare CR");
    if (request_line) {
      request_line = false;
      continue;
    }
    if (line.empty()) return std::nullopt;  // the end of the headers
    if (line.front() == ' ' || line.front() == '\t')
      return std::string("a header line starts with whitespace (obsolete line folding)");
    const auto colon = line.find(':');
    // Not shown: such a line may be a credential in the wrong shape.
    if (colon == std::string_view::npos) return std::string("a header line has no colon");
    if (!is_token(line.substr(0, colon))) return bad_name(line.substr(0, colon));
    if (has_control_character(line.substr(colon + 1)))
      return "the value of " + std::string(line.substr(0, colon)) + " holds a control character";
  }
  return std::nullopt;
}

std::optional<std::string> framing_problem(std::string_view head) {
  head.remove_prefix(leading_line_breaks(head));
  head.remove_prefix(std::min(head.size(), head.find('\n') + 1));  // the request line
  int lengths = 0, encodings = 0;
  for (const auto& [name, value] : header_fields(head)) {
    if (equal_ignoring_case(name, "Content-Length")) {
      if (++lengths > 1)
        return std::string(
            "Content-Length is given more than once (even equal values are refused)");
      if (value.empty() ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::string("Content-Length has a malformed value (not a decimal number)");
    } else if (equal_ignoring_case(name, "Transfer-Encoding")) {
      if (++encodings > 1) return std::string("Transfer-Encoding is given more than once");
      if (!equal_ignoring_case(value, "chunked"))
        return "Transfer-Encoding " + shown(value) + " is not supported (only \"chunked\")";
    }
  }
  if (lengths > 0 && encodings > 0)
    return std::string("Transfer-Encoding and Content-Length are both given");
  return std::nullopt;
}

}  // namespace nomad_iis::http
