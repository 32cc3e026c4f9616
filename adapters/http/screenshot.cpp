#include "adapters/http/screenshot.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "adapters/http/http_error.hpp"
#include "adapters/http/subprocess.hpp"
#include "adapters/http/temp_dir.hpp"

namespace nomad_iis::http {
namespace {

/// "http://127.0.0.1:8080" -> ("127.0.0.1", "8080").
std::pair<std::string, std::string> host_and_port(const std::string& url) {
  auto rest = url.substr(url.find("://") + 3);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return {rest, "80"};
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

}  // namespace

std::string screenshot_path(const std::string& raw) {
  std::string p = raw.empty() ? "/" : raw;
  if (p.front() != '/') p = "/" + p;
  if (p.size() > 2048) throw bad_request("bad_request", "the screenshot path is too long");
  for (unsigned char c : p)
    if (c < 0x21 || c == 0x7f || c == '\\')
      throw bad_request("bad_request", "the screenshot path holds an invalid character");
  if (p.size() > 1 && p[1] == '/')
    throw bad_request("bad_request", "the screenshot path must be a path, not a URL");
  return p;
}

std::vector<std::string> chromium_args(const screenshot_request& req,
                                       const std::string& profile_dir,
                                       const std::string& png_path) {
  auto [ip, port] = host_and_port(req.base_url);
  std::vector<std::string> args = {
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
      "--hide-scrollbars",
      "--user-data-dir=" + profile_dir,
      "--screenshot=" + png_path,
      "--window-size=" + std::to_string(req.width) + "," + std::to_string(req.height)};
  std::string url = req.base_url + req.path;
  if (!req.hostname.empty() && req.hostname != "*") {
    auto bare_ip = ip.size() > 2 && ip.front() == '[' ? ip.substr(1, ip.size() - 2) : ip;
    args.push_back("--host-resolver-rules=MAP " + req.hostname + " " + bare_ip);
    url = "http://" + req.hostname + ":" + port + req.path;
  }
  args.push_back(url);
  return args;
}

std::string take_screenshot(const screenshot_request& req) {
  if (::access(req.chromium_path.c_str(), X_OK) != 0)
    throw http_error(503, "screenshots_unavailable",
                     "Chromium is not installed at " + req.chromium_path);
  scoped_temp_dir dir("nomad-iis-shot-");
  auto profile = dir / "profile";
  auto png = dir / "shot.png";
  std::vector<std::string> argv{req.chromium_path};
  for (auto& a : chromium_args(req, profile, png)) argv.push_back(std::move(a));
  // HOME inside the temp dir: Chromium writes caches and crash dumps there.
  std::vector<std::string> env{"HOME=" + dir.path(), "PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  auto r = run_subprocess(argv, env, req.timeout, dir / "stderr.log");
  if (!r.started) throw http_error(503, "screenshots_unavailable", r.error);
  if (r.timed_out)
    throw http_error(504, "screenshot_timeout", "the browser did not finish in time");
  std::ifstream in(png, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto bytes = ss.str();
  static const std::string magic("\x89PNG\r\n\x1a\n", 8);
  if (bytes.compare(0, magic.size(), magic) != 0)
    throw http_error(
        502, "screenshot_failed",
        "the browser produced no image (exit code " + std::to_string(r.exit_code) + ")");
  return bytes;
}

}  // namespace nomad_iis::http
