#pragma once
// Test helpers: a small msgpack value tree that tests edit by key and index,
// packed with msgpack::packer so every encoding Nomad may use (and some it
// does not) can be produced on purpose; the shapes Nomad sends for our
// schemas; golden-file access; and error assertions.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "config/error.hpp"

namespace config_test {

struct node;
using node_list = std::vector<node>;
using node_map = std::vector<std::pair<std::string, node>>;

/// Bytes written verbatim, to force an encoding (e.g. uint16 for a small number).
struct raw_bytes {
  std::string bytes;
};

/// One msgpack value. Maps keep insertion order so tests can send keys in any order.
struct node {
  std::variant<std::monostate, bool, std::uint64_t, std::int64_t, double, std::string, node_list,
               node_map, raw_bytes>
      value;

  node() = default;
  node(std::nullptr_t) {}
  node(bool b) : value(b) {}
  node(int i) : value(static_cast<std::int64_t>(i)) {}
  node(std::int64_t i) : value(i) {}
  node(std::uint64_t u) : value(u) {}
  node(double d) : value(d) {}
  node(const char* s) : value(std::string(s)) {}
  node(std::string s) : value(std::move(s)) {}
  node(node_list items) : value(std::move(items)) {}
  node(node_map entries) : value(std::move(entries)) {}
  node(raw_bytes raw) : value(std::move(raw)) {}

  /// Map entry (inserted as nil when missing).
  node& operator[](const std::string& key);
  /// List element.
  node& operator[](std::size_t index);
  /// Removes a map key entirely (as an older sender might).
  void erase(const std::string& key);
  node_list& list() { return std::get<node_list>(value); }
};

/// The msgpack encoding of a tree, smallest headers and ints as Nomad uses.
std::string pack(const node& root);

/// Forced encodings, via msgpack::packer's pack_fix_* and friends.
raw_bytes fix_uint8(std::uint8_t v);
raw_bytes fix_uint16(std::uint16_t v);
raw_bytes fix_uint32(std::uint32_t v);
raw_bytes fix_uint64(std::uint64_t v);
raw_bytes fix_int8(std::int8_t v);
raw_bytes fix_int16(std::int16_t v);
raw_bytes fix_int32(std::int32_t v);
raw_bytes fix_int64(std::int64_t v);
raw_bytes float32(float v);
/// A string with an explicit str8 / str16 / str32 header.
raw_bytes str8(const std::string& s);
raw_bytes str16(const std::string& s);
raw_bytes str32(const std::string& s);

// Shapes Nomad sends: every schema attribute present, nil when unset, [] for
// absent block lists, Default literals applied.
node extension(const std::string& name, const std::string& value);
node pool(const std::string& name = "default");
node vdir(const std::string& alias, const std::string& path);
node application(const std::string& path, const std::string& pool_name = "default");
node certificate();
node binding(const std::string& type, const std::string& port);
node provider(const std::string& name, const std::string& type);
/// A valid task config: one root application in the default pool, one http binding.
node task();
/// The driver config Nomad sends for `config {}`.
node driver();

/// Bytes of tests/data/config/<name>.
std::string read_data_file(const std::string& name);

/// Runs fn, requires a config_error whose path is `path` and whose message
/// contains `needle`; returns the message for further checks.
std::string expect_config_error(const std::function<void()>& fn, const std::string& path,
                                const std::string& needle);

}  // namespace config_test
