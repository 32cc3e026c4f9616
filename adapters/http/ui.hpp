#pragma once
// GET /ui and /ui/{asset}: the dashboard, public like the OpenAPI document
// (its files hold no secret; every data call it makes goes to the
// authenticated API), served under a strict Content-Security-Policy.

#include <optional>
#include <string_view>

#include "adapters/http/exchange.hpp"

namespace nomad_iis::http {

/// The policy every /ui answer carries: only this origin's scripts, styles
/// and connections, no inline code, screenshots as blob: images, no frames.
inline constexpr std::string_view ui_content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

/// Whether `raw_path` (the target without its query) is /ui or below it.
bool is_ui_path(std::string_view raw_path);

/// The answer to GET `raw_path` (is_ui_path): the asset (index.html for /ui
/// and /ui/), 304 when `if_none_match` names its ETag, else 404; every
/// answer with the security headers.
response ui_response(std::string_view raw_path, std::string_view if_none_match);

}  // namespace nomad_iis::http
