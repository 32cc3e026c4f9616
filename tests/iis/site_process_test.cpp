#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <fstream>

#include "iis/unix_users.hpp"
#include "site_fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

/// "key=value" from the app's answer.
std::string field(const std::string& body, const std::string& key) {
  const auto start = body.find(key + "=");
  if (start == std::string::npos) return "";
  const auto value = start + key.size() + 1;
  return body.substr(value, body.find_first_of(" \n", value) - value);
}

struct platform_fixture : site_fixture {
  platform_fixture() { add_site_and_py_app(); }
  int app_pid() {
    const auto workers = pool(web->snapshot(), "py").workers;
    return workers.empty() ? 0 : workers.front().pid;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_FIXTURE_TEST_SUITE(http_platform, platform_fixture)

BOOST_AUTO_TEST_CASE(app_process_is_served_through_nginx) {
  start();
  const auto response = get("/py/hello?x=1");
  BOOST_REQUIRE_MESSAGE(response.status == 200, response.status << " " << response.body);
  BOOST_TEST(response.body.find("hello from httpPlatform") != std::string::npos);
  BOOST_TEST(field(response.body, "path") == "/py/hello?x=1");
  BOOST_TEST(field(response.body, "port") == field(response.body, "env_port"));
  BOOST_TEST(std::stoi(field(response.body, "port")) != port);
  BOOST_TEST(field(response.body, "tmp") == alloc.task_dir() + "/tmp");
  const int pid = app_pid();
  BOOST_TEST(field(response.body, "pid") == std::to_string(pid));
  if (::geteuid() == 0) {
    // The "py" pool's own account (ApplicationPoolIdentity), not www-data (33).
    const auto account = find_account(pool_user_name(task.alloc_id, task.task_name, "py"));
    BOOST_REQUIRE(account.has_value());
    BOOST_TEST(field(response.body, "uid") == std::to_string(account->uid));
    BOOST_TEST(field(response.body, "uid") != "33");
  }
  BOOST_TEST(pool(web->snapshot(), "py").supervisor.pid == 0);  // no static content in "py"
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(eventually([&] { return alloc.err->text().find("app.py: ") != std::string::npos; }),
             "the app's stderr reaches the task's stderr FIFO");
  BOOST_TEST(alloc.out->text().find("app.py listening") != std::string::npos);

  BOOST_TEST(!run([&](completion done) { web->stop_pools({"py"}, done); }));
  BOOST_TEST(!pid_alive(pid));
  BOOST_TEST(get("/py/hello").status == 503);
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(overlapped_recycle_switches_to_a_new_process) {
  start();
  const int old_pid = app_pid();
  const auto old_port = field(get("/py/").body, "port");
  BOOST_TEST(!run([&](completion done) { web->recycle_pools({"py"}, done); }));
  remember();
  const int new_pid = app_pid();
  BOOST_TEST(new_pid != old_pid);
  const auto body = get("/py/").body;
  BOOST_TEST(field(body, "pid") == std::to_string(new_pid));
  BOOST_TEST(field(body, "port") != old_port);
  BOOST_TEST(eventually([&] { return !pid_alive(old_pid); }, std::chrono::seconds(15)));
}

BOOST_AUTO_TEST_CASE(an_app_recycle_under_kept_alive_load_loses_no_request) {
  start();
  const int old_pid = app_pid();
  const auto first_front = web->snapshot().front;
  // The front moves to a new generation for the new process's port while
  // clients keep their connections: none is closed under a request.
  kept_alive_load load(port, "/py/", 4);
  BOOST_REQUIRE(eventually([&] { return load.served() > 50; }));
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(!run([&](completion done) { web->recycle_pools({"py"}, done); }));
    remember();
    const int served = load.served();
    BOOST_TEST(eventually([&] { return load.served() > served + 50; }));
  }
  load.stop();
  BOOST_TEST(load.failed() == 0, "failed: " << load.failed() << ", last: " << load.last_failure());
  BOOST_TEST(app_pid() != old_pid);
  BOOST_TEST(web->snapshot().front.pid != first_front.pid);
  BOOST_TEST(eventually([&] { return !pid_alive(first_front.pid); }));
}

BOOST_AUTO_TEST_CASE(crashed_app_is_restarted_and_reported) {
  start();
  const int pid = app_pid();
  ::kill(pid, SIGKILL);
  const auto message = observer->wait_for(
      {"worker " + std::to_string(pid) + " of pool py exited (signal 9); restarted as"});
  BOOST_REQUIRE(message);
  remember();
  const int replacement = std::stoi(message->substr(message->rfind(' ') + 1));
  BOOST_TEST(app_pid() == replacement);
  BOOST_TEST(field(get("/py/").body, "pid") == std::to_string(replacement));
}

BOOST_AUTO_TEST_CASE(stop_kills_an_app_that_ignores_the_signal) {
  std::string web_config;
  {
    std::ifstream in(alloc.task_dir() + "/local/py/web.config");
    web_config.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  web_config.replace(web_config.find("app.py"), 6, "app.py --ignore-term");
  alloc.write("local/py/web.config", web_config);
  start();
  const auto pids = all_pids(web->snapshot());
  const auto began = std::chrono::steady_clock::now();
  BOOST_TEST(!run([&](completion done) { web->stop(std::chrono::seconds(1), "SIGTERM", done); }));
  const auto took = std::chrono::steady_clock::now() - began;
  BOOST_TEST((took >= std::chrono::milliseconds(900)));
  BOOST_TEST((took < std::chrono::seconds(6)));
  for (int pid : pids) BOOST_TEST(!pid_alive(pid));
}

BOOST_AUTO_TEST_CASE(a_failing_app_fails_the_start) {
  alloc.write("local/py/web.config",
              "<configuration><system.webServer><httpPlatform processPath=\"python3\" "
              "arguments=\"-c &quot;import sys; sys.exit(4)&quot;\" startupTimeLimit=\"5\"/>"
              "</system.webServer></configuration>");
  create();
  const auto error = run_failure([&](completion done) { web->start(done); });
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message.find("application /py/") != std::string::npos, error->message);
  BOOST_TEST(error->message.find("exited during start") != std::string::npos, error->message);
  BOOST_TEST(to_string(error->code) == std::string("process_failed"));
  BOOST_TEST(!std::filesystem::exists(plan.data_dir));
  BOOST_TEST(all_pids(web->snapshot()).empty());
}

BOOST_AUTO_TEST_CASE(a_broken_web_config_fails_the_start_as_a_config_error) {
  alloc.write("local/py/web.config", "<configuration><system.webServer>");
  create();
  const auto error = run_failure([&](completion done) { web->start(done); });
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message.find("application /py/: web.config") == 0u, error->message);
  // Not retryable: the same web.config fails every start.
  BOOST_TEST(to_string(error->code) == std::string("invalid_config"));
  BOOST_TEST(!std::filesystem::exists(plan.data_dir));
}

BOOST_AUTO_TEST_CASE(a_process_path_that_is_no_program_fails_the_start_as_a_config_error) {
  alloc.write("local/py/web.config",
              "<configuration><system.webServer><httpPlatform processPath=\"no-such-program\"/>"
              "</system.webServer></configuration>");
  create();
  const auto error = run_failure([&](completion done) { web->start(done); });
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message.find("processPath \"no-such-program\" is not an executable file") !=
                 std::string::npos,
             error->message);
  BOOST_TEST(to_string(error->code) == std::string("invalid_config"));
  BOOST_TEST(!std::filesystem::exists(plan.data_dir));
  BOOST_TEST(all_pids(web->snapshot()).empty());
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
