#include "iis/inspect/browser_home.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/beneath.hpp"
#include "iis/inspect/inspect_error.hpp"

namespace nomad_iis::inspect {
namespace {

/// WebRTC sends UDP (STUN) to any address past the proxy unless the profile
/// forbids it; Chromium 156 ignores --force-webrtc-ip-handling-policy, this
/// profile setting holds: no UDP that does not go through the proxy.
constexpr std::string_view preferences =
    R"({"webrtc":{"ip_handling_policy":"disable_non_proxied_udp",)"
    R"("multiple_routes_enabled":false,"nonproxied_udp_enabled":false}})";

[[noreturn]] void fail(const std::string& what) {
  throw inspect_error(
      inspect_errc::internal, "internal",
      "cannot prepare the browser's directory (" + what + "): " + std::strerror(errno));
}

unique_fd make_dir(int parent, const char* name) {
  if (::mkdirat(parent, name, 0700) != 0) fail(std::string("mkdir ") + name);
  auto fd = open_beneath(parent, name, O_DIRECTORY | O_RDONLY);
  if (!fd) fail(std::string("open ") + name);
  return fd;
}

}  // namespace

browser_home::browser_home(const std::optional<run_as>& user) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = tmp && *tmp == '/' ? tmp : "/tmp";
  base_ = open_directory(base);
  if (!base_) fail(base);
  std::string tmpl = base + "/nomad-iis-shot-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) fail(tmpl);
  path_ = buf.data();
  name_ = path_.substr(base.size() + 1);
  dir_ = open_beneath(base_.get(), name_, O_DIRECTORY | O_RDONLY);
  if (!dir_) fail(path_);
  stderr_.reset(
      ::openat(dir_.get(), "stderr.log", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!stderr_) fail("stderr.log");
  create_home(user);
  // The browser passes through to home/ and sees nothing else here.
  if (::fchmod(dir_.get(), 0711) != 0) fail("chmod " + path_);
}

browser_home::~browser_home() {
  stderr_.reset();
  dir_.reset();
  remove_beneath(base_.get(), name_);
}

std::string browser_home::stderr_tail(std::size_t max) const {
  struct stat st {};
  if (::fstat(stderr_.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  const auto size = static_cast<std::size_t>(st.st_size);
  const auto from = size > max ? size - max : 0;
  std::string text(size - from, '\0');
  const auto got = ::pread(stderr_.get(), text.data(), text.size(), static_cast<off_t>(from));
  text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return text;
}

void browser_home::create_home(const std::optional<run_as>& user) {
  // Built while still ours (0700): the browser user gets each piece only
  // once it is complete.
  auto home = make_dir(dir_.get(), "home");
  auto tmp = make_dir(home.get(), "tmp");
  auto profile = make_dir(home.get(), "profile");
  auto defaults = make_dir(profile.get(), "Default");
  unique_fd prefs(::openat(defaults.get(), "Preferences",
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!prefs || ::write(prefs.get(), preferences.data(), preferences.size()) !=
                    static_cast<ssize_t>(preferences.size()))
    fail("Preferences");
  if (!user) return;
  for (int fd : {prefs.get(), defaults.get(), profile.get(), tmp.get(), home.get()})
    if (::fchown(fd, user->uid, user->gid) != 0) fail("chown to the browser's user");
}

}  // namespace nomad_iis::inspect
