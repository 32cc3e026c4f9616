#pragma once
// Typed, path-aware access to the cty-msgpack maps Nomad sends
// (PROTOCOL.md §7.2). Shared by the driver and task config decoders; every
// problem becomes a config_error naming the field and the bad value.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/duration.hpp"

namespace nomad_iis::config::detail {

/// Unpacks exactly one msgpack value spanning all of bytes. Container sizes
/// and nesting are capped so a hostile header cannot force a huge allocation.
/// Throws config_error (path "") on empty, malformed or trailing input.
msgpack::object_handle unpack_whole(std::string_view bytes);

/// "parent.key", or just key at the root.
std::string join_path(const std::string& parent, std::string_view key);

/// Describes a value for "expected X, got Y" messages; a secret's value is never shown.
std::string describe(const msgpack::object& value, bool secret = false);

/// A msgpack map (one cty object) seen as named fields.
class fields {
 public:
  /// Throws config_error at path unless value is a map with distinct string keys.
  fields(const msgpack::object& value, std::string path);

  /// The value under key, or nullptr when it is absent or nil: both mean "unset"
  /// (Nomad sends every key; a missing one is tolerated for older senders).
  const msgpack::object* find(std::string_view key) const;
  /// Path of one field of this map, for error messages.
  std::string path_of(std::string_view key) const { return join_path(path_, key); }
  const std::string& path() const { return path_; }

 private:
  std::vector<std::pair<std::string_view, const msgpack::object*>> entries_;  ///< sorted by key
  std::string path_;
};

/// An optional string: UTF-8 checked; control characters refused unless secret
/// (a secret's value never appears in an error).
std::optional<std::string> get_string(const fields& f, std::string_view key, bool secret = false);
/// get_string with "" read as unset, like the original's IsNullOrEmpty checks.
std::optional<std::string> get_nonempty_string(const fields& f, std::string_view key,
                                               bool secret = false);
/// A required, non-empty string: nil gives "is required".
std::string get_required_string(const fields& f, std::string_view key);
std::optional<bool> get_bool(const fields& f, std::string_view key);
/// A whole number in [min, max], from any encoding Nomad uses for a number:
/// any int width, an integral float, or a decimal string.
std::optional<std::int64_t> get_int(const fields& f, std::string_view key, std::int64_t min,
                                    std::int64_t max);
std::optional<std::uint64_t> get_uint(const fields& f, std::string_view key, std::uint64_t min,
                                      std::uint64_t max);
/// A string in one of the forms parse_duration accepts.
std::optional<duration> get_duration(const fields& f, std::string_view key);
std::optional<std::vector<std::string>> get_string_list(const fields& f, std::string_view key);

/// The elements of a block list (object key `key`, HCL block `block_name`) as
/// fields with paths "<block_name>[i]"; nil reads as no blocks.
std::vector<fields> get_blocks(const fields& f, std::string_view key, std::string_view block_name,
                               std::size_t min_items, std::size_t max_items);

/// Index of value in names, or a config_error listing them. ignore_case
/// follows the original, which parsed some enums with Enum.TryParse(ignoreCase).
std::size_t match_name(const std::string& path, const std::string& value,
                       std::initializer_list<std::string_view> names, bool ignore_case);

}  // namespace nomad_iis::config::detail
