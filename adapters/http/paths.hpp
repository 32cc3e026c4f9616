#pragma once
// Management API file paths as they arrive in the URL: decoded exactly once
// and refused when they hold what no path may. Resolution below the task
// directory is task_tree.hpp's (through descriptors).

#include <string>
#include <vector>

#include "iis/files/task_tree.hpp"

namespace nomad_iis::http {

/// Joins the raw (still percent-encoded) URL segments of an fs path and
/// decodes each exactly once, so "local%2Findex.html" and "local/index.html"
/// name the same file. Throws http_error or files::file_error (both 400,
/// bad_path) on malformed or leftover
/// encodings (double encoding), NUL, control characters and backslashes.
std::string decode_fs_path(const std::vector<std::string>& raw_segments);

}  // namespace nomad_iis::http
