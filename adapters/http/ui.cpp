#include "adapters/http/ui.hpp"

#include <algorithm>
#include <string>

#include "adapters/http/json_errors.hpp"
#include "adapters/http/ui_assets.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::string_view prefix = "/ui";

void add_security_headers(response& r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(ui_content_security_policy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
}

const ui_asset* find_asset(std::string_view name) {
  if (name.empty()) name = "index.html";
  for (const auto& a : ui_assets())
    if (a.name == name) return &a;
  return nullptr;
}

/// Whether the If-None-Match list names `etag` (or is "*"); weak tags match.
bool matches(std::string_view list, std::string_view etag) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

}  // namespace

bool is_ui_path(std::string_view raw_path) {
  return raw_path == prefix || raw_path.substr(0, prefix.size() + 1) == "/ui/";
}

response ui_response(std::string_view raw_path, std::string_view if_none_match) {
  response r;
  add_security_headers(r);
  auto name = raw_path.substr(std::min(raw_path.size(), prefix.size() + 1));
  const ui_asset* asset = find_asset(name);
  if (!asset) {
    r.status = 404;
    r.body = error_json("not_found", "no such dashboard file");
    return r;
  }
  r.headers.emplace_back("ETag", std::string(asset->etag));
  // Revalidated on every load: a new plugin's dashboard shows at once.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.content_type = std::string(asset->content_type);
  if (matches(if_none_match, asset->etag)) {
    r.status = 304;
    return r;
  }
  r.body = std::string(asset->body);
  return r;
}

}  // namespace nomad_iis::http
