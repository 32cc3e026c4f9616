#pragma once
// The inspector the task actors look inside their tasks with
// (iis/inspect/inspector.hpp): Chromium for screenshots, gcore for dumps,
// and the Unix user browsers run as: one the plugin creates for itself (no
// login, no home), so Chromium on an app's page never runs as root, and
// never as a pool's user (LocalService pools run as nobody).

#include "iis/inspect/inspector.hpp"

namespace nomad_iis {

/// The browser user's name.
inline constexpr const char* browser_user_name = "nomad-iis-browser";

/// When the plugin is root, browsers run as the browser user (created on
/// first use: useradd blocks, and so does every call of the inspector);
/// otherwise as the plugin's own user.
inspect::inspector make_inspector();

}  // namespace nomad_iis
