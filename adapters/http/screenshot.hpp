#pragma once
// Screenshots of a task's first http binding with headless Chromium: a fresh
// profile per shot, a time limit, and a limit on browsers running at once.

#include <chrono>
#include <string>
#include <vector>

namespace nomad_iis::http {

struct screenshot_request {
  std::string chromium_path;
  std::string base_url;  ///< "http://127.0.0.1:23456"
  std::string hostname;  ///< the binding's hostname, "" if none
  std::string path = "/";
  int width = 1280;
  int height = 720;
  std::chrono::milliseconds timeout{30000};
};

/// The browser's command line (without the program), exposed for tests.
std::vector<std::string> chromium_args(const screenshot_request& req,
                                       const std::string& profile_dir, const std::string& png_path);

/// Takes the screenshot and returns the PNG bytes. Throws http_error (504 on
/// timeout, 502 when the browser fails, 503 when it is missing).
std::string take_screenshot(const screenshot_request& req);

/// Checks and normalises the `path` query value ("" -> "/"); throws 400.
std::string screenshot_path(const std::string& raw);

}  // namespace nomad_iis::http
