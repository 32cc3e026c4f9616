#pragma once
// Secure resolution of Management API file paths: every path the API
// touches lies inside the task directory, never in secrets/ unless the
// driver config allows it, and never behind a symlink that leads outside.

#include <string>
#include <string_view>
#include <vector>

namespace nomad_iis::http {

/// Joins the raw (still percent-encoded) URL segments of an fs path and
/// decodes each exactly once, so "local%2Findex.html" and "local/index.html"
/// name the same file. Throws http_error 400 on malformed or leftover
/// encodings (double encoding), NUL, control characters and backslashes.
std::string decode_fs_path(const std::vector<std::string>& raw_segments);

/// The components of a decoded relative path ("." and empty ones dropped).
/// Throws http_error 400 for absolute paths and "..".
std::vector<std::string> split_relative(std::string_view path);

/// Where the paths of one task may lead.
struct path_scope {
  std::string task_dir;
  std::string secrets_dir;
  bool allow_secrets = false;
};

struct resolved_path {
  std::string relative;  ///< normalised, "" for the task dir itself
  /// Canonical parent joined with the last component (a final symlink is
  /// not followed: this is what DELETE removes).
  std::string absolute;
  /// What reads and writes use: `absolute`, or a final symlink's target.
  std::string target;
  bool exists = false;
  bool is_dir = false;  ///< target is a directory
  bool is_symlink = false;
  bool is_root() const { return relative.empty(); }
};

/// Resolves `relative` (already decoded) inside scope.task_dir. Throws
/// http_error 400 for traversal and symlinks leading outside or nowhere,
/// 403 for secrets/ without allow_secrets, 409 when the task dir is gone.
resolved_path resolve_path(const path_scope& scope, std::string_view relative);

/// Whether `path` is `dir` or lies below it (both canonical, no trailing '/').
bool is_within(std::string_view path, std::string_view dir);

/// The canonical secrets dir of a scope ("" when it does not exist).
std::string canonical_secrets_dir(const path_scope& scope);

}  // namespace nomad_iis::http
