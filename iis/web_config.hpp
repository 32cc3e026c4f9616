#pragma once
// What an application's web.config asks of the web server: an aspNetCore or
// httpPlatform handler (the app is then its own process that we proxy to)
// and the request size limit. Everything else in web.config is IIS-only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iis/model.hpp"

namespace nomad_iis::iis {

struct web_config {
  std::optional<process_handler> handler;
  /// requestFiltering/requestLimits@maxAllowedContentLength (bytes)
  std::optional<std::uint64_t> max_allowed_content_length;
};

/// Parses web.config text. Throws std::runtime_error for malformed XML or
/// an invalid attribute value ("web.config: startupTimeLimit ...").
web_config parse_web_config(std::string_view xml);

/// Reads `<app_dir>/web.config`; an empty web_config when there is none.
web_config read_web_config(const std::string& app_dir);

}  // namespace nomad_iis::iis
