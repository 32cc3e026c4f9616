#include "iis/inspect/screenshot.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "iis/inspect/browser_home.hpp"
#include "iis/inspect/devtools_pipe.hpp"
#include "iis/inspect/inspect_error.hpp"
#include "iis/process.hpp"

namespace nomad_iis::inspect {
namespace {

/// A proxy name that never resolves (see network_args).
constexpr const char* dead_proxy = "http://blocked.invalid:9";
/// A page may navigate on (a meta refresh) just as we capture; Chromium then
/// never answers that capture. Each attempt waits longer (a big page takes
/// long to encode on a busy node), all within the screenshot's time limit.
constexpr int capture_attempts = 5;
constexpr auto capture_wait_step = std::chrono::seconds(2);
constexpr auto capture_retry_wait = std::chrono::milliseconds(500);

/// The site's origin as the browser reaches it.
struct site_origin {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< as in the URL: "127.0.0.1", "[::1]" or the binding's hostname
  std::string port;
  std::string address;  ///< the binding's address as in a URL ("[::1]")
  std::string ip;       ///< the binding's address without brackets
  bool by_name = false;
};

/// A plain DNS name: nothing that could change the meaning of Chromium's
/// rule lists ("," ";" spaces) or of the URL.
bool plain_hostname(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  return true;
}

site_origin origin_of(const screenshot_request& req) {
  site_origin o;
  const auto sep = req.base_url.find("://");
  o.scheme = req.base_url.compare(0, sep, "https") == 0 ? "https" : "http";
  auto rest = req.base_url.substr(sep + 3);
  auto colon = rest.rfind(':');
  o.address = o.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  o.port =
      colon == std::string::npos ? (o.scheme == "https" ? "443" : "80") : rest.substr(colon + 1);
  o.ip = o.address.size() > 2 && o.address.front() == '['
             ? o.address.substr(1, o.address.size() - 2)
             : o.address;
  // A "*.example.com" binding answers any name below example.com.
  auto name = req.hostname.rfind("*.", 0) == 0 ? "www" + req.hostname.substr(1) : req.hostname;
  if (plain_hostname(name)) {
    o.host = name;
    o.by_name = true;
  }
  return o;
}

/// Network: every request goes to a proxy whose name never resolves, except
/// those to the site's origin (the bypass list; "<-loopback>" first removes
/// Chromium's implicit bypass of localhost and loopback addresses). Behind
/// that, the resolver answers "not found" for every name and address but the
/// site's, so nothing else could be reached even directly. This works in
/// Chromium's network service for every kind of request (subresources,
/// frames, navigations, fetch, WebSocket, EventSource, beacons, prefetch,
/// WebRTC's TCP); WebRTC's UDP, which no proxy carries, is off through the
/// profile (browser_home.cpp).
std::vector<std::string> network_args(const site_origin& o) {
  // MAP takes an IPv6 address in brackets, EXCLUDE without (measured).
  std::string rules = o.by_name ? "MAP " + o.host + " " + o.address + ", MAP * ~NOTFOUND"
                                : "MAP * ~NOTFOUND, EXCLUDE " + o.ip;
  return {std::string("--proxy-server=") + dead_proxy,
          "--proxy-bypass-list=<-loopback>;" + o.host + ":" + o.port,
          "--host-resolver-rules=" + rules};
}

/// A JSON object's text; `fill` writes its members.
template <typename F>
std::string json_object(F&& fill) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  fill(w);
  w.EndObject();
  return {out.GetString(), out.GetSize()};
}

std::string member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

/// A page of its own in the browser, sized to the screenshot; its session id.
std::string open_page(devtools_pipe& cdp, const screenshot_request& req) {
  auto target = member(cdp.call("Target.createTarget", R"({"url":"about:blank"})"), "targetId");
  auto session = member(cdp.call("Target.attachToTarget", json_object([&](auto& w) {
                                   w.Key("targetId");
                                   w.String(target.c_str());
                                   w.Key("flatten");
                                   w.Bool(true);
                                 })),
                        "sessionId");
  cdp.call("Emulation.setDeviceMetricsOverride", json_object([&](auto& w) {
             w.Key("width");
             w.Int(req.width);
             w.Key("height");
             w.Int(req.height);
             w.Key("deviceScaleFactor");
             w.Int(1);
             w.Key("mobile");
             w.Bool(false);
           }),
           session);
  cdp.call("Page.enable", "{}", session);
  return session;
}

/// Loads the page, waits for its load event and captures it; a page that
/// navigates on (meta refresh, script) is captured once it settles.
std::string capture(devtools_pipe& cdp, const screenshot_request& req) {
  auto session = open_page(cdp, req);
  const auto url = screenshot_url(req);
  auto nav = cdp.call("Page.navigate", json_object([&](auto& w) {
                        w.Key("url");
                        w.String(url.c_str());
                      }),
                      session);
  if (auto error = member(nav, "errorText"); !error.empty())
    throw inspect_error(inspect_errc::failed, "screenshot_failed",
                        "the page did not load: " + error);
  cdp.wait_event("Page.loadEventFired", session, devtools_pipe::clock::time_point::max());
  for (int attempt = 1; attempt <= capture_attempts; ++attempt) {
    try {
      auto shot = cdp.call_until("Page.captureScreenshot", R"({"format":"png"})", session,
                                 devtools_pipe::clock::now() + attempt * capture_wait_step);
      if (shot) return member(*shot, "data");
    } catch (const devtools_error&) {
      if (attempt == capture_attempts) throw;
    }
    cdp.wait_event("Page.loadEventFired", session,
                   devtools_pipe::clock::now() + capture_retry_wait);
  }
  throw inspect_error(inspect_errc::failed, "screenshot_failed",
                      "the browser did not capture the page");
}

/// Base64 as DevTools sends it (OpenSSL's decoder: padding, no line breaks
/// needed). Malformed text is a plain runtime_error, an internal error.
std::string decode_base64(const std::string& text) {
  std::unique_ptr<EVP_ENCODE_CTX, void (*)(EVP_ENCODE_CTX*)> ctx(EVP_ENCODE_CTX_new(),
                                                                 EVP_ENCODE_CTX_free);
  if (!ctx || text.size() > static_cast<std::size_t>(INT_MAX))
    throw std::runtime_error("cannot decode the browser's image");
  std::string bytes(text.size() / 4 * 3 + 3, '\0');
  auto* out = reinterpret_cast<unsigned char*>(bytes.data());
  int used = 0, tail = 0;
  EVP_DecodeInit(ctx.get());
  if (EVP_DecodeUpdate(ctx.get(), out, &used, reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), out + used, &tail) < 0)
    throw std::runtime_error("the browser's image is not base64");
  bytes.resize(static_cast<std::size_t>(used + tail));
  return bytes;
}

std::string decode_png(const std::string& base64) {
  const std::string bytes = decode_base64(base64);
  static const std::string magic("\x89PNG\r\n\x1a\n", 8);
  if (bytes.compare(0, magic.size(), magic) != 0)
    throw inspect_error(inspect_errc::failed, "screenshot_failed",
                        "the browser produced no PNG image");
  return bytes;
}

/// The DevTools pipes: [0] we write, the browser reads (its fd 3); [1] the
/// browser writes (its fd 4), we read.
struct pipe_pair {
  unique_fd ours;
  unique_fd theirs;
};
pipe_pair make_pipe(bool browser_reads) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw inspect_error(inspect_errc::internal, "internal", "cannot create a pipe for the browser");
  unique_fd r(fds[0]), w(fds[1]);
  return browser_reads ? pipe_pair{std::move(w), std::move(r)}
                       : pipe_pair{std::move(r), std::move(w)};
}

/// The browser's account: the user's own group only, no other.
iis::unix_account browser_account(const run_as& user) {
  iis::unix_account account;
  account.uid = user.uid;
  account.gid = user.gid;
  account.groups = {user.gid};
  return account;
}

/// Runs the browser and drives it; the browser's group is killed on return.
std::string run_browser(const screenshot_request& req, const browser_home& home) {
  auto commands = make_pipe(true);
  auto answers = make_pipe(false);
  iis::spawn_request r;
  r.path = req.chromium_path;
  r.args = {req.chromium_path};
  for (auto& a : chromium_args(req, home.profile())) r.args.push_back(std::move(a));
  r.env = {"HOME=" + home.home(), "TMPDIR=" + home.tmp(), "PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  r.stderr_fd = home.stderr_fd();
  if (req.user) r.account = browser_account(*req.user);
  r.no_new_privs = true;
  r.inherit_fds = {commands.theirs.get(), answers.theirs.get()};
  iis::child_process browser;
  try {
    browser = iis::spawn_child(r);
  } catch (const std::exception& e) {
    throw inspect_error(inspect_errc::unavailable, "screenshots_unavailable",
                        "cannot start " + req.chromium_path + ": " + e.what());
  }
  commands.theirs.reset();
  answers.theirs.reset();
  devtools_pipe cdp(std::move(commands.ours), std::move(answers.ours),
                    devtools_pipe::clock::now() + req.timeout);
  try {
    return capture(cdp, req);
  } catch (const devtools_timeout&) {
    throw inspect_error(inspect_errc::timeout, "screenshot_timeout",
                        "the browser did not finish in time");
  } catch (const devtools_closed& e) {
    const auto ended = browser.wait_until(devtools_pipe::clock::now() + std::chrono::seconds(1));
    throw inspect_error(inspect_errc::failed, "screenshot_failed",
                        std::string(e.what()) + " (" +
                            (ended ? "ended with " + iis::describe(*ended) : "still running") +
                            "): " + home.stderr_tail(300));
  } catch (const devtools_error& e) {
    throw inspect_error(inspect_errc::failed, "screenshot_failed", e.what());
  }
}

}  // namespace

std::string screenshot_path(const std::string& raw) {
  std::string p = raw.empty() ? "/" : raw;
  if (p.front() != '/') p = "/" + p;
  if (p.size() > 2048)
    throw inspect_error(inspect_errc::bad_request, "bad_request",
                        "the screenshot path is too long");
  for (unsigned char c : p)
    if (c < 0x21 || c == 0x7f || c == '\\')
      throw inspect_error(inspect_errc::bad_request, "bad_request",
                          "the screenshot path holds an invalid character");
  if (p.size() > 1 && p[1] == '/')
    throw inspect_error(inspect_errc::bad_request, "bad_request",
                        "the screenshot path must be a path, not a URL");
  return p;
}

std::string screenshot_url(const screenshot_request& req) {
  auto o = origin_of(req);
  return o.scheme + "://" + o.host + ":" + o.port + req.path;
}

std::vector<std::string> chromium_args(const screenshot_request& req,
                                       const std::string& profile_dir) {
  std::vector<std::string> args = {
      "--headless",
      "--remote-debugging-pipe",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
      "--hide-scrollbars",
      "--user-data-dir=" + profile_dir,
      "--window-size=" + std::to_string(req.width) + "," + std::to_string(req.height)};
  const auto origin = origin_of(req);
  for (auto& a : network_args(origin)) args.push_back(std::move(a));
  // An https-only site: its own certificate (self-signed included) is what
  // we photograph. The flag is this throw-away browser's alone, and the
  // network rules above let it reach nothing but the site.
  if (origin.scheme == "https") args.push_back("--ignore-certificate-errors");
  args.push_back("about:blank");
  return args;
}

std::string take_screenshot(const screenshot_request& req) {
  if (::access(req.chromium_path.c_str(), X_OK) != 0)
    throw inspect_error(inspect_errc::unavailable, "screenshots_unavailable",
                        "Chromium is not installed at " + req.chromium_path);
  // Chromium refuses root without --no-sandbox, and must never run so.
  if (::geteuid() == 0 && (!req.user || req.user->uid == 0))
    throw inspect_error(inspect_errc::unavailable, "screenshots_unavailable",
                        "no unprivileged user to run the browser as");
  browser_home home(req.user);
  return decode_png(run_browser(req, home));
}

}  // namespace nomad_iis::inspect
