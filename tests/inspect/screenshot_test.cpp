#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/unique_fd.hpp"
#include "iis/inspect/browser_home.hpp"
#include "iis/inspect/devtools_pipe.hpp"
#include "iis/inspect/screenshot.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::inspect;
namespace test = nomad_iis::http::test;
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
  auto named = chromium_args(request("http://[::1]:8080", "v6.example"), "/p");
  BOOST_TEST(has(named, "--host-resolver-rules=MAP v6.example [::1], MAP * ~NOTFOUND"));
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

BOOST_AUTO_TEST_CASE(https_only_site_is_photographed_over_https_accepting_its_certificate) {
  auto r = request("https://127.0.0.1:8443");
  auto args = chromium_args(r, "/p");
  BOOST_TEST(screenshot_url(r) == "https://127.0.0.1:8443/x.html");
  BOOST_TEST(has(args, "--ignore-certificate-errors"));
  // The network stays the site's alone.
  BOOST_TEST(has(args, "--proxy-bypass-list=<-loopback>;127.0.0.1:8443"));
  BOOST_TEST(has(args, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"));
  auto named = request("https://10.1.2.3:8443", "shot.example");
  BOOST_TEST(screenshot_url(named) == "https://shot.example:8443/x.html");
  // A plain http site's browser never ignores certificate errors.
  BOOST_TEST(
      !has(chromium_args(request("http://127.0.0.1:8080"), "/p"), "--ignore-certificate-errors"));
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

BOOST_AUTO_TEST_SUITE(devtools)

/// A pipe pair with the test playing the browser.
struct fake_browser {
  unique_fd commands;  ///< what the client sent (we read)
  unique_fd answers;   ///< what we send
  std::unique_ptr<devtools_pipe> client;
  explicit fake_browser(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    int c[2], a[2];
    BOOST_REQUIRE(::pipe2(c, O_CLOEXEC) == 0 && ::pipe2(a, O_CLOEXEC) == 0);
    commands.reset(c[0]);
    answers.reset(a[1]);
    client = std::make_unique<devtools_pipe>(unique_fd(c[1]), unique_fd(a[0]),
                                             devtools_pipe::clock::now() + limit);
  }
  void send(const std::string& json) {
    auto text = json + std::string(1, '\0');
    BOOST_REQUIRE(::write(answers.get(), text.data(), text.size()) ==
                  static_cast<ssize_t>(text.size()));
  }
  std::string received() {
    char buf[4096];
    auto n = ::read(commands.get(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
};

BOOST_AUTO_TEST_CASE(answers_events_and_errors) {
  ::signal(SIGPIPE, SIG_IGN);
  fake_browser b;
  // Events before the answer are kept for wait_event; the answer arrives in two pieces.
  b.send(R"({"method":"Page.loadEventFired","sessionId":"S","params":{}})");
  const std::string piece1 = R"({"id":1,"result":{"x")", piece2 = std::string(R"(:"y"}})") + '\0';
  BOOST_REQUIRE(::write(b.answers.get(), piece1.data(), piece1.size()) ==
                static_cast<ssize_t>(piece1.size()));
  BOOST_REQUIRE(::write(b.answers.get(), piece2.data(), piece2.size()) ==
                static_cast<ssize_t>(piece2.size()));
  auto r = b.client->call("A.b", R"({"q":1})", "S");
  BOOST_TEST(std::string(r["x"].GetString()) == "y");
  BOOST_TEST(b.received() ==
             std::string(R"({"id":1,"method":"A.b","sessionId":"S","params":{"q":1}})") +
                 std::string(1, '\0'));
  const auto soon = devtools_pipe::clock::now() + std::chrono::milliseconds(100);
  BOOST_TEST(b.client->wait_event("Page.loadEventFired", "S", soon));
  BOOST_TEST(!b.client->wait_event("Page.loadEventFired", "S", soon));  // consumed
  b.send(R"({"id":2,"error":{"code":-32000,"message":"nope"}})");
  BOOST_CHECK_EXCEPTION(b.client->call("C.d"), devtools_error, [](const devtools_error& e) {
    return std::string(e.what()) == "C.d: nope";
  });
}

BOOST_AUTO_TEST_CASE(an_unanswered_call_gives_up_and_its_late_answer_is_ignored) {
  fake_browser b;
  auto none = b.client->call_until("Page.captureScreenshot", "{}", "S",
                                   devtools_pipe::clock::now() + std::chrono::milliseconds(100));
  BOOST_TEST(!none.has_value());
  b.send(R"({"id":1,"result":{"data":"old"}})");
  b.send(R"({"id":2,"result":{"data":"new"}})");
  auto r = b.client->call("Page.captureScreenshot", "{}", "S");
  BOOST_TEST(std::string(r["data"].GetString()) == "new");
}

BOOST_AUTO_TEST_CASE(deadline_and_a_closed_pipe) {
  {
    fake_browser b(std::chrono::milliseconds(200));
    BOOST_CHECK_THROW(b.client->call("A.b"), devtools_timeout);
  }
  {
    fake_browser b;
    b.answers.reset();
    BOOST_CHECK_THROW(b.client->call("A.b"), devtools_closed);
  }
  {
    fake_browser b;
    b.send("not json");
    BOOST_CHECK_THROW(b.client->call("A.b"), devtools_closed);
  }
}

BOOST_AUTO_TEST_SUITE_END()
