#pragma once
// Small text helpers shared by the decoders: quoting values for error
// messages and the character checks every string field goes through.

#include <string>
#include <string_view>

namespace nomad_iis::config::detail {

/// The value in double quotes, safe to put in an error message (and so in a
/// protobuf string): quotes and backslashes escaped, control characters and
/// invalid UTF-8 as \xNN, long values cut after 96 bytes with "...".
std::string quote(std::string_view text);

/// Whether text is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view text);

/// Whether text holds a C0 control character or DEL; such bytes have no place in
/// names, paths or hostnames and would corrupt generated config files.
bool has_control_char(std::string_view text);

/// ASCII case-insensitive equality, for enum values the original parsed ignoring case.
bool iequals(std::string_view a, std::string_view b);

}  // namespace nomad_iis::config::detail
