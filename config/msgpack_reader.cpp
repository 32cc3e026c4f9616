#include "config/msgpack_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "config/error.hpp"
#include "config/text.hpp"

namespace nomad_iis::config::detail {
namespace {

/// Deepest nesting accepted. Our schemas need 7 levels
/// (root > applications > application > virtual_directories > ... > extension value);
/// the margin leaves room for attributes added later.
constexpr std::size_t max_depth = 16;
/// Most elements one array or map may claim; far above any real config, and
/// small enough that claimed-but-missing elements cost little memory.
constexpr std::size_t max_container_items = 1 << 16;

/// A whole number split into sign and magnitude so that the whole range
/// -2^63 .. 2^64-1 (what msgpack ints can hold) fits.
struct whole_number {
  bool negative = false;
  std::uint64_t magnitude = 0;
  std::string text;  ///< as written, for messages
};

std::string format_double(double value) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

/// Reads "[-]digits[.digits]", the form go-cty uses for numbers that are
/// neither int64 nor float64. Only a zero fraction is whole. Throws for
/// non-numbers and values past 2^64.
whole_number parse_decimal_string(const std::string& path, std::string_view text) {
  whole_number result;
  result.text = std::string(text.substr(0, 64)) + (text.size() > 64 ? "..." : "");
  std::size_t pos = 0;
  if (pos < text.size() && text[pos] == '-') {
    result.negative = true;
    ++pos;
  }
  const std::size_t digits_start = pos;
  bool overflow = false;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    if (result.magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      overflow = true;
    } else {
      result.magnitude = result.magnitude * 10 + digit;
    }
    ++pos;
  }
  bool whole = true;
  bool well_formed = pos > digits_start;
  if (well_formed && pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t fraction_start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (text[pos] != '0') whole = false;
      ++pos;
    }
    well_formed = pos > fraction_start;
  }
  if (!well_formed || pos != text.size()) {
    throw config_error(path, "expected a number, got the string " + quote(text));
  }
  if (!whole) throw config_error(path, result.text + " is not a whole number");
  if (overflow) throw config_error(path, result.text + " is out of range");
  return result;
}

/// Any encoding Nomad may use for a number attribute, as a whole number.
whole_number read_whole_number(const std::string& path, const msgpack::object& value) {
  switch (value.type) {
    case msgpack::type::POSITIVE_INTEGER:
      return {false, value.via.u64, std::to_string(value.via.u64)};
    case msgpack::type::NEGATIVE_INTEGER: {
      // -(i64 + 1) + 1 avoids negating INT64_MIN.
      const std::uint64_t magnitude = static_cast<std::uint64_t>(-(value.via.i64 + 1)) + 1;
      return {true, magnitude, std::to_string(value.via.i64)};
    }
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: {
      const double number = value.via.f64;
      if (!std::isfinite(number)) {
        throw config_error(path, format_double(number) + " is not a finite number");
      }
      if (std::trunc(number) != number) {
        throw config_error(path, format_double(number) + " is not a whole number");
      }
      const double magnitude = std::fabs(number);
      if (magnitude >= 18446744073709551616.0) {
        throw config_error(path, format_double(number) + " is out of range");
      }
      return {number < 0, static_cast<std::uint64_t>(magnitude), format_double(number)};
    }
    case msgpack::type::STR:
      return parse_decimal_string(path, std::string_view(value.via.str.ptr, value.via.str.size));
    default:
      throw config_error(path, "expected a number, got " + describe(value));
  }
}

[[noreturn]] void throw_range(const std::string& path, const std::string& min,
                              const std::string& max, const std::string& got) {
  throw config_error(path, "must be between " + min + " and " + max + ", got " + got);
}

const msgpack::object& expect_type(const fields& f, std::string_view key,
                                   const msgpack::object& value, msgpack::type::object_type type,
                                   const char* expected, bool secret = false) {
  if (value.type != type) {
    throw config_error(f.path_of(key),
                       std::string("expected ") + expected + ", got " + describe(value, secret));
  }
  return value;
}

/// Checks a string's bytes and returns it; shared by plain strings and list elements.
std::string checked_string(const std::string& path, const msgpack::object& value, bool secret) {
  std::string text(value.via.str.ptr, value.via.str.size);
  if (!is_valid_utf8(text)) {
    throw config_error(path, secret ? "is not valid UTF-8" : quote(text) + " is not valid UTF-8");
  }
  if (secret) {
    if (text.find('\0') != std::string::npos) throw config_error(path, "contains a NUL byte");
  } else if (has_control_char(text)) {
    throw config_error(path, quote(text) + " contains a control character");
  }
  return text;
}

}  // namespace

msgpack::object_handle unpack_whole(std::string_view bytes) {
  if (bytes.empty()) throw config_error("", "no configuration was sent (empty msgpack)");
  const std::size_t items = std::min(bytes.size(), max_container_items);
  const msgpack::unpack_limit limit(items, items, bytes.size(), bytes.size(), bytes.size(),
                                    max_depth);
  std::size_t offset = 0;
  msgpack::object_handle handle;
  try {
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limit);
  } catch (const msgpack::unpack_error& e) {
    throw config_error("", std::string("not valid msgpack: ") + e.what());
  }
  if (offset != bytes.size()) {
    throw config_error("", "not valid msgpack: " + std::to_string(bytes.size() - offset) +
                               " bytes after the config value");
  }
  return handle;
}

std::string join_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string path = parent;
  path += '.';
  path += key;
  return path;
}

std::string describe(const msgpack::object& value, bool secret) {
  switch (value.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return secret ? "a bool" : (value.via.boolean ? "the bool true" : "the bool false");
    case msgpack::type::POSITIVE_INTEGER:
      return secret ? "a number" : "the number " + std::to_string(value.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return secret ? "a number" : "the number " + std::to_string(value.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return secret ? "a number" : "the number " + format_double(value.via.f64);
    case msgpack::type::STR:
      return secret
                 ? "a string"
                 : "the string " + quote(std::string_view(value.via.str.ptr, value.via.str.size));
    case msgpack::type::BIN:
      return "binary data";
    case msgpack::type::ARRAY:
      return "a list of " + std::to_string(value.via.array.size) + " items";
    case msgpack::type::MAP:
      return "a map";
    case msgpack::type::EXT:
      return "a msgpack extension value";
  }
  return "an unknown value";
}

fields::fields(const msgpack::object& value, std::string path) : path_(std::move(path)) {
  if (value.type != msgpack::type::MAP) {
    throw config_error(path_, "expected a block (map), got " + describe(value));
  }
  entries_.reserve(value.via.map.size);
  for (std::uint32_t i = 0; i < value.via.map.size; ++i) {
    const msgpack::object_kv& kv = value.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) {
      throw config_error(path_, "map key is " + describe(kv.key) + ", expected a string");
    }
    entries_.emplace_back(std::string_view(kv.key.via.str.ptr, kv.key.via.str.size), &kv.val);
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  auto repeated =
      std::adjacent_find(entries_.begin(), entries_.end(),
                         [](const auto& a, const auto& b) { return a.first == b.first; });
  if (repeated != entries_.end()) {
    // Keys we do not know are never checked for UTF-8, so quote rather than put one in the path.
    throw config_error(path_, "the key " + quote(repeated->first) + " appears more than once");
  }
}

const msgpack::object* fields::find(std::string_view key) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                             [](const auto& entry, std::string_view k) { return entry.first < k; });
  if (it == entries_.end() || it->first != key) return nullptr;
  if (it->second->type == msgpack::type::NIL) return nullptr;
  return it->second;
}

std::optional<std::string> get_string(const fields& f, std::string_view key, bool secret) {
  const msgpack::object* value = f.find(key);
  if (!value) return std::nullopt;
  expect_type(f, key, *value, msgpack::type::STR, "a string", secret);
  return checked_string(f.path_of(key), *value, secret);
}

std::optional<std::string> get_nonempty_string(const fields& f, std::string_view key, bool secret) {
  auto text = get_string(f, key, secret);
  if (text && text->empty()) return std::nullopt;
  return text;
}

std::string get_required_string(const fields& f, std::string_view key) {
  auto text = get_string(f, key);
  if (!text) throw config_error(f.path_of(key), "is required");
  if (text->empty()) throw config_error(f.path_of(key), "must not be empty");
  return *text;
}

std::optional<bool> get_bool(const fields& f, std::string_view key) {
  const msgpack::object* value = f.find(key);
  if (!value) return std::nullopt;
  return expect_type(f, key, *value, msgpack::type::BOOLEAN, "a bool").via.boolean;
}

std::optional<std::int64_t> get_int(const fields& f, std::string_view key, std::int64_t min,
                                    std::int64_t max) {
  const msgpack::object* value = f.find(key);
  if (!value) return std::nullopt;
  const std::string path = f.path_of(key);
  const whole_number number = read_whole_number(path, *value);
  constexpr auto int64_min_magnitude = static_cast<std::uint64_t>(1) << 63;
  std::int64_t result = 0;
  if (number.negative) {
    if (number.magnitude > int64_min_magnitude) {
      throw_range(path, std::to_string(min), std::to_string(max), number.text);
    }
    result = number.magnitude == int64_min_magnitude ? std::numeric_limits<std::int64_t>::min()
                                                     : -static_cast<std::int64_t>(number.magnitude);
  } else {
    if (number.magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw_range(path, std::to_string(min), std::to_string(max), number.text);
    }
    result = static_cast<std::int64_t>(number.magnitude);
  }
  if (result < min || result > max) {
    throw_range(path, std::to_string(min), std::to_string(max), number.text);
  }
  return result;
}

std::optional<std::uint64_t> get_uint(const fields& f, std::string_view key, std::uint64_t min,
                                      std::uint64_t max) {
  const msgpack::object* value = f.find(key);
  if (!value) return std::nullopt;
  const std::string path = f.path_of(key);
  const whole_number number = read_whole_number(path, *value);
  if ((number.negative && number.magnitude != 0) || number.magnitude < min ||
      number.magnitude > max) {
    throw_range(path, std::to_string(min), std::to_string(max), number.text);
  }
  return number.magnitude;
}

std::optional<duration> get_duration(const fields& f, std::string_view key) {
  auto text = get_string(f, key);
  if (!text) return std::nullopt;
  auto parsed = parse_duration(*text);
  if (!parsed) {
    throw config_error(f.path_of(key), quote(*text) + " is not a duration (use 1h30m or hh:mm:ss)");
  }
  return parsed;
}

std::optional<std::vector<std::string>> get_string_list(const fields& f, std::string_view key) {
  const msgpack::object* value = f.find(key);
  if (!value) return std::nullopt;
  expect_type(f, key, *value, msgpack::type::ARRAY, "a list of strings");
  std::vector<std::string> items;
  items.reserve(value->via.array.size);
  for (std::uint32_t i = 0; i < value->via.array.size; ++i) {
    const msgpack::object& item = value->via.array.ptr[i];
    const std::string path = f.path_of(key) + "[" + std::to_string(i) + "]";
    if (item.type != msgpack::type::STR) {
      throw config_error(path, "expected a string, got " + describe(item));
    }
    items.push_back(checked_string(path, item, false));
  }
  return items;
}

std::vector<fields> get_blocks(const fields& f, std::string_view key, std::string_view block_name,
                               std::size_t min_items, std::size_t max_items) {
  const std::string path = join_path(f.path(), block_name);
  std::vector<fields> blocks;
  const msgpack::object* value = f.find(key);
  if (value) {
    if (value->type != msgpack::type::ARRAY) {
      throw config_error(path, "expected a list of blocks, got " + describe(*value));
    }
    if (max_items != 0 && value->via.array.size > max_items) {
      throw config_error(path, "at most " + std::to_string(max_items) + " " +
                                   std::string(block_name) + " blocks are allowed, got " +
                                   std::to_string(value->via.array.size));
    }
    blocks.reserve(value->via.array.size);
    for (std::uint32_t i = 0; i < value->via.array.size; ++i) {
      blocks.emplace_back(value->via.array.ptr[i], path + "[" + std::to_string(i) + "]");
    }
  }
  if (blocks.size() < min_items) {
    throw config_error(path, "at least " + std::to_string(min_items) + " " +
                                 std::string(block_name) + " block" + (min_items == 1 ? "" : "s") +
                                 " must be given");
  }
  return blocks;
}

std::size_t match_name(const std::string& path, const std::string& value,
                       std::initializer_list<std::string_view> names, bool ignore_case) {
  std::size_t index = 0;
  bool case_only_mismatch = false;
  for (std::string_view name : names) {
    if (value == name || (ignore_case && iequals(value, name))) return index;
    if (iequals(value, name)) case_only_mismatch = true;
    ++index;
  }
  std::string problem = "must be ";
  if (names.size() == 2) {
    problem += quote(*names.begin()) + " or " + quote(*(names.begin() + 1));
  } else {
    problem += "one of ";
    bool first = true;
    for (std::string_view name : names) {
      if (!first) problem += ", ";
      problem += quote(name);
      first = false;
    }
  }
  problem += ", got " + quote(value);
  if (case_only_mismatch) problem += " (names are case-sensitive)";
  throw config_error(path, problem);
}

}  // namespace nomad_iis::config::detail
