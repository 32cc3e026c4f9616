#pragma once
// Screenshots of a task's first http binding (else its first https binding,
// whose own certificate is accepted) with headless Chromium: an
// unprivileged user with Chromium's own sandbox on, a fresh profile per shot,
// network access to nothing but the site's origin, a time limit, and a limit
// on browsers running at once (the caller's).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "iis/inspect/browser_home.hpp"

namespace nomad_iis::inspect {

/// The account browsers run as, created on first use; nullopt when the
/// plugin is not root (the browser then runs as the plugin's user). Throws
/// std::runtime_error when it cannot be created.
using browser_account_source = std::function<std::optional<run_as>()>;

struct screenshot_request {
  std::string chromium_path;
  std::string base_url;  ///< "http://127.0.0.1:23456" or "https://127.0.0.1:23457"
  std::string hostname;  ///< the binding's hostname, "" if none
  std::string path = "/";
  int width = 1280;
  int height = 720;
  std::chrono::milliseconds timeout{30000};
  std::optional<run_as> user;  ///< who the browser runs as (nullopt: the plugin's user)
};

/// The URL the browser opens ("http://host:port/path", or https).
std::string screenshot_url(const screenshot_request& req);

/// The browser's command line (without the program), exposed for tests.
std::vector<std::string> chromium_args(const screenshot_request& req,
                                       const std::string& profile_dir);

/// Takes the screenshot and returns the PNG bytes. Throws inspect_error
/// (timeout; failed when the browser or the page fails; unavailable when it
/// is missing).
std::string take_screenshot(const screenshot_request& req);

/// Checks and normalises the `path` query value ("" -> "/"); throws
/// inspect_error bad_request.
std::string screenshot_path(const std::string& raw);

}  // namespace nomad_iis::inspect
