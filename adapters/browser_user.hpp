#pragma once
// The Unix user screenshots' browsers run as: one the plugin creates for
// itself (no login, no home), so Chromium on an app's page never runs as
// root, and never as a pool's user (LocalService pools run as nobody).

#include "iis/inspect/screenshot.hpp"

namespace nomad_iis {

/// The user's name.
inline constexpr const char* browser_user_name = "nomad-iis-browser";

/// For the Management API: when the plugin is root, the browser user
/// (created on first use, useradd blocks: call it off actor threads);
/// otherwise nullopt, the plugin's own user.
inspect::browser_account_source make_browser_account_source();

}  // namespace nomad_iis
