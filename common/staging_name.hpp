#pragma once
// The name the Management API gives the staging folders of file changes in
// progress. Directory security leaves them alone (a grant there would let
// the app into a change before it is checked), downloads leave them out.

#include <string_view>

namespace nomad_iis {

inline constexpr std::string_view staging_prefix = ".nomad-iis-staging-";

/// Whether `name` (one path component) is a staging folder's.
inline bool is_staging_name(std::string_view name) {
  return name.compare(0, staging_prefix.size(), staging_prefix) == 0;
}

}  // namespace nomad_iis
