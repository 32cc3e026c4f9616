#pragma once
// The dashboard's files (adapters/http/ui/), compiled in by CMake like the
// OpenAPI document: plain ES modules, CSS and HTML, no build step.

#include <string_view>
#include <vector>

namespace nomad_iis::http {

struct ui_asset {
  std::string_view name;          ///< "app.js"
  std::string_view content_type;  ///< "text/javascript; charset=utf-8"
  std::string_view etag;          ///< "\"<sha256 prefix>\"", changes with the content
  std::string_view body;
};

/// Every asset, index.html first.
const std::vector<ui_asset>& ui_assets();

}  // namespace nomad_iis::http
