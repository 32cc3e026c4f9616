#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "adapters/http/browser_home.hpp"
#include "adapters/http/screenshot.hpp"
#include "adapters/http/subprocess.hpp"
#include "common/unique_fd.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::http;
using nomad_iis::unique_fd;

namespace {

screenshot_request request(const std::string& base_url, const std::string& hostname = "") {
  screenshot_request r;
  r.base_url = base_url;
  r.hostname = hostname;
  r.path = "/x.html";
  return r;
}

bool has(const std::vector<std::string>& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}

/// Runs `sh -c script` with its stderr in a temp file; what it wrote.
std::string run_sh(const std::string& script, std::optional<run_as> user = std::nullopt,
                   std::vector<int> fds = {}) {
  test::temp_dir t;
  unique_fd err(::open((t / "err").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  subprocess_options o;
  o.argv = {"/bin/sh", "-c", script};
  o.env = {"PATH=/usr/bin:/bin"};
  o.stderr_fd = err.get();
  o.user = user;
  o.inherit_fds = std::move(fds);
  child_session child(o);
  BOOST_REQUIRE_MESSAGE(child.started(), child.error());
  BOOST_REQUIRE(child.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
  BOOST_TEST(child.exit_code() == 0);
  return file_tail(err.get());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(screenshot_args)

BOOST_AUTO_TEST_CASE(sandboxed_and_only_the_sites_address) {
  auto args = chromium_args(request("http://127.0.0.1:8080"), "/p");
  BOOST_TEST(!has(args, "--no-sandbox"));
  BOOST_TEST(has(args, "--remote-debugging-pipe"));
  BOOST_TEST(has(args, "--user-data-dir=/p"));
  BOOST_TEST(has(args, "--proxy-server=http://blocked.invalid:9"));
  BOOST_TEST(has(args, "--proxy-bypass-list=<-loopback>;127.0.0.1:8080"));
  BOOST_TEST(has(args, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"));
  BOOST_TEST(args.back() == "about:blank");
  BOOST_TEST(screenshot_url(request("http://127.0.0.1:8080")) == "http://127.0.0.1:8080/x.html");
}

BOOST_AUTO_TEST_CASE(ipv6_address) {
  auto args = chromium_args(request("http://[::1]:8080"), "/p");
  BOOST_TEST(has(args, "--proxy-bypass-list=<-loopback>;[::1]:8080"));
  BOOST_TEST(has(args, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ::1"));
  BOOST_TEST(screenshot_url(request("http://[::1]:8080")) == "http://[::1]:8080/x.html");
}

BOOST_AUTO_TEST_CASE(hostname_binding_resolves_to_its_address_only) {
  auto r = request("http://10.1.2.3:8080", "shot.example");
  auto args = chromium_args(r, "/p");
  BOOST_TEST(has(args, "--proxy-bypass-list=<-loopback>;shot.example:8080"));
  BOOST_TEST(has(args, "--host-resolver-rules=MAP shot.example 10.1.2.3, MAP * ~NOTFOUND"));
  BOOST_TEST(screenshot_url(r) == "http://shot.example:8080/x.html");
  // A wildcard binding is photographed under a name it answers.
  BOOST_TEST(screenshot_url(request("http://10.1.2.3:80", "*.example.com")) ==
             "http://www.example.com:80/x.html");
  // "*" and anything that could change the rule lists' meaning: the address.
  BOOST_TEST(screenshot_url(request("http://10.1.2.3:80", "*")) == "http://10.1.2.3:80/x.html");
  auto odd = chromium_args(request("http://10.1.2.3:80", "a,MAP * 10.0.0.1"), "/p");
  BOOST_TEST(has(odd, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 10.1.2.3"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(subprocess)

BOOST_AUTO_TEST_CASE(inherits_only_the_given_descriptors_as_3_4) {
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  unique_fd r(p[0]), w(p[1]);
  // Not close-on-exec, above what ls opens itself: must not be inherited.
  unique_fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  unique_fd stray(::fcntl(null.get(), F_DUPFD, 100));
  auto out = run_sh("echo hi >&3; ls /proc/self/fd >&2", std::nullopt, {w.get()});
  w.reset();
  char buf[16] = {};
  BOOST_TEST(::read(r.get(), buf, sizeof buf) == 3);
  BOOST_TEST(std::string(buf) == "hi\n");
  // 0, 1, 2, 3 and ls's own directory descriptor.
  BOOST_TEST(out.find(std::to_string(stray.get()) + "\n") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(switches_user_and_groups) {
  if (::geteuid() != 0) return;  // only root can switch
  auto out = run_sh("id -u >&2; id -g >&2; id -G >&2; grep NoNewPrivs /proc/self/status >&2",
                    run_as{65534, 65534});
  BOOST_TEST(out == "65534\n65534\n65534\nNoNewPrivs:\t1\n");
}

BOOST_AUTO_TEST_CASE(timeout_kills_the_whole_group) {
  child_session child([] {
    subprocess_options o;
    o.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
    return o;
  }());
  BOOST_REQUIRE(child.started());
  const pid_t group = child.pid();
  BOOST_TEST(!child.wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(200)));
  child.kill_group();
  // The background sleep went too (SIGKILL is delivered at once; reaping by init may lag).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(-group, 0) != 0;
    if (!gone) ::usleep(20000);
  }
  BOOST_TEST(gone);
}

BOOST_AUTO_TEST_CASE(missing_program_is_an_error_not_a_crash) {
  subprocess_options o;
  o.argv = {"/nonexistent/program"};
  child_session child(o);
  BOOST_TEST(!child.started());
  BOOST_TEST(child.error().find("No such file") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(browser_home_dirs)

BOOST_AUTO_TEST_CASE(private_to_the_browser_user_and_removed) {
  std::optional<run_as> user;
  if (::geteuid() == 0) user = run_as{65534, 65534};
  std::string top;
  {
    browser_home home(user);
    top = home.home().substr(0, home.home().size() - 5);
    struct stat st {};
    BOOST_REQUIRE(::stat(top.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0711u);
    BOOST_TEST(st.st_uid == ::geteuid());
    BOOST_REQUIRE(::stat(home.home().c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0700u);
    BOOST_TEST(st.st_uid == (user ? user->uid : ::geteuid()));
    BOOST_REQUIRE(::stat((home.profile() + "/Default/Preferences").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == (user ? user->uid : ::geteuid()));
    auto prefs = test::read_file(home.profile() + "/Default/Preferences");
    BOOST_TEST(prefs.find("disable_non_proxied_udp") != std::string::npos);
    // What the browser leaves, a link out included, goes without following it.
    test::write_file(home.tmp() + "/x/y", "z");
    BOOST_REQUIRE(::symlink("/etc", (home.tmp() + "/out").c_str()) == 0);
  }
  BOOST_TEST(::access(top.c_str(), F_OK) != 0);
  BOOST_TEST(::access("/etc/passwd", F_OK) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
