#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "iis/process.hpp"
#include "site_fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

constexpr auto idle_timeout = std::chrono::seconds(2);

config::application_pool idling_pool(const std::string& name,
                                     config::start_mode mode = config::start_mode::on_demand) {
  auto pool = make_pool(name);
  pool.start_mode = mode;
  pool.idle_timeout = idle_timeout;
  return pool;
}

/// "key=value" from the test app's answer.
std::string field(const std::string& body, const std::string& key) {
  const auto start = body.find(key + "=");
  if (start == std::string::npos) return "";
  const auto value = start + key.size() + 1;
  return body.substr(value, body.find_first_of(" \n", value) - value);
}

/// Live processes whose command line passes `wanted`.
std::vector<int> pids_whose_command_line(const std::function<bool(const std::string&)>& wanted) {
  std::vector<int> pids;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const int pid = std::stoi(name);
    if (wanted(command_line(pid)) && pid_alive(pid)) pids.push_back(pid);
  }
  return pids;
}

/// The socket keepers of the site in `data_dir` (iis/socket_keeper.hpp).
std::vector<int> keeper_pids(const std::string& data_dir) {
  return pids_whose_command_line([&](const std::string& line) {
    return line.find("socket keeper") != std::string::npos &&
           line.find(data_dir) != std::string::npos;
  });
}

/// The nginx masters running pool `pool` of the site in `data_dir` (a
/// worker just forked still carries its master's title: not counted).
std::vector<int> pool_masters(const std::string& data_dir, std::size_t pool) {
  const std::string conf = data_dir + "/pool-" + std::to_string(pool) + ".conf";
  const auto pids = pids_whose_command_line([&](const std::string& line) {
    return line.find("nginx: master process") != std::string::npos &&
           line.find(conf) != std::string::npos;
  });
  std::set<int> children;
  for (int pid : pids) {
    if (const auto ticks = read_start_ticks(pid)) {
      for (const auto& child : children_of(process_ref{pid, *ticks})) children.insert(child.pid);
    }
  }
  std::vector<int> masters;
  for (int pid : pids) {
    if (!children.count(pid)) masters.push_back(pid);
  }
  return masters;
}

/// Runs `count` requests at once; returns how many got each status.
std::map<int, int> at_once(int count, const std::function<http_response()>& request) {
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  std::vector<int> statuses(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    clients.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      statuses[static_cast<std::size_t>(i)] = request().status;
    });
  }
  go = true;
  for (auto& client : clients) client.join();
  std::map<int, int> by_status;
  for (int status : statuses) ++by_status[status];
  return by_status;
}

std::string describe(const std::map<int, int>& by_status) {
  std::string text;
  for (const auto& [status, n] : by_status) {
    text += std::to_string(status) + "x" + std::to_string(n) + " ";
  }
  return text;
}

struct demand_fixture : site_fixture {
  /// Workers of the pool right now.
  std::vector<process_ref> workers(const std::string& name) {
    return pool(web->snapshot(), name).workers;
  }
  /// Workers of the pool once it has some: a request may be answered a few
  /// milliseconds before the backend has learnt the new worker's PID.
  std::vector<process_ref> running_workers(const std::string& name) {
    eventually([&] { return !workers(name).empty(); });
    return workers(name);
  }
  std::string status(const std::string& name) {
    return to_string(pool(web->snapshot(), name).status);
  }
};

struct app_fixture : demand_fixture {
  app_fixture() {
    copy_data("httpplatform", "local/py");
    config.application_pools.push_back(running_pool("default"));
    config.applications.push_back(make_app("local/site"));
    config.applications.push_back(make_app("local/py", "py", "py"));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_FIXTURE_TEST_SUITE(on_demand, demand_fixture)

BOOST_AUTO_TEST_CASE(first_request_starts_the_pool_and_idle_timeout_stops_it) {
  // The pool's own nginx serves on (the front's take-over of a sole pool's
  // files: single_hop/a_first_request_wakes_the_pool_then_the_front_takes_its_files_over).
  driver.single_hop_static = false;
  config.application_pools.push_back(idling_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  BOOST_TEST(status("default") == "Started");
  BOOST_TEST(workers("default").empty(), "OnDemand: no worker before the first request");
  BOOST_TEST(pool(web->snapshot(), "default").supervisor.pid == 0);

  const auto first = get("/file.txt");
  BOOST_TEST(first.status == 200);
  BOOST_TEST(first.body == "static file content");
  const auto woke = observer->wait_for({"application pool default started on demand"});
  BOOST_REQUIRE(woke);
  BOOST_TEST_MESSAGE(*woke);  // how long the first request waited for nginx
  const auto started = running_workers("default");
  BOOST_REQUIRE(!started.empty());
  remember();

  // Requests keep it running; then it idles for idle_timeout and its workers go.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    BOOST_TEST(get("/file.txt").status == 200);
  }
  BOOST_TEST(pid_alive(started[0].pid), "stopped although requests came in");
  BOOST_REQUIRE(observer->wait_for({"application pool default idle for 2s; worker stopped"},
                                   std::chrono::seconds(8)));
  BOOST_TEST(status("default") == "Started");
  BOOST_TEST(workers("default").empty());
  BOOST_TEST(eventually([&] { return !pid_alive(started[0].pid); }));

  // The next request waits for a new worker instead of failing.
  BOOST_TEST(get("/file.txt").status == 200);
  const auto again = running_workers("default");
  BOOST_REQUIRE(!again.empty());
  BOOST_TEST(again[0].pid != started[0].pid);
  remember();
}

BOOST_AUTO_TEST_CASE(concurrent_first_requests_all_succeed) {
  config.application_pools.push_back(idling_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const auto by_status = at_once(24, [&] { return get("/file.txt"); });
  remember();
  BOOST_TEST(by_status.size() == 1u, describe(by_status));
  BOOST_TEST(by_status.count(200), describe(by_status));
  BOOST_TEST(pool(web->snapshot(), "default").supervisor.pid > 0);
}

BOOST_AUTO_TEST_CASE(a_full_queue_answers_503) {
  // A pool nginx that takes 2s to come up, so requests pile up meanwhile.
  const std::string slow = root.path() + "/slow-nginx";
  std::ofstream(slow) << "#!/usr/bin/python3\n"
                         "import os, sys, time\n"
                         "if any('pool-' in a for a in sys.argv): time.sleep(2)\n"
                         "os.execv('/usr/sbin/nginx', ['/usr/sbin/nginx'] + sys.argv[1:])\n";
  ::chmod(slow.c_str(), 0755);
  driver.nginx_path = slow;
  auto pool_block = idling_pool("default");
  pool_block.queue_length = 10;
  config.application_pools.push_back(pool_block);
  config.applications.push_back(make_app("local/site"));
  start();
  const auto by_status =
      at_once(40, [&] { return http_get("127.0.0.1", port, "/file.txt", "localhost", 15000); });
  remember();
  // The backlog holds queue_length (+1, as Linux counts) requests; HTTP.sys's 503 for the rest.
  BOOST_TEST(by_status.count(503), describe(by_status));
  BOOST_TEST((by_status.count(200) && by_status.at(200) >= 10), describe(by_status));
  BOOST_TEST(by_status.size() == 2u, describe(by_status));
}

BOOST_AUTO_TEST_CASE(always_running_starts_at_once_and_idle_brings_a_fresh_worker) {
  config.application_pools.push_back(idling_pool("default", config::start_mode::always_running));
  config.applications.push_back(make_app("local/site"));
  start();
  const auto first = workers("default");
  BOOST_REQUIRE_MESSAGE(!first.empty(), "AlwaysRunning starts its worker with the site");
  // IIS stops the idle worker and, AlwaysRunning, starts another at once.
  BOOST_REQUIRE(observer->wait_for({"idle for 2s; worker stopped, starting a new one"},
                                   std::chrono::seconds(8)));
  BOOST_REQUIRE(observer->wait_for({"application pool default started again (AlwaysRunning)"}));
  remember();
  const auto second = workers("default");
  BOOST_REQUIRE(!second.empty());
  BOOST_TEST(second[0].pid != first[0].pid);
  BOOST_TEST(!pid_alive(first[0].pid));
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(idle_pools_wake_after_a_plugin_restart) {
  alloc.write("local/b/x.txt", "pool b");
  config.application_pools.push_back(idling_pool("default"));
  config.application_pools.push_back(idling_pool("second"));
  config.applications.push_back(make_app("local/site"));
  config.applications.push_back(make_app("local/b", "b", "second"));
  start();
  const std::string state = web->save_state();  // both idle then
  BOOST_TEST(get("/b/x.txt").status == 200);    // "second" runs, "default" never started
  const auto second = running_workers("second");
  BOOST_REQUIRE(!second.empty());

  restart_plugin(state);
  BOOST_TEST(workers("default").empty());
  BOOST_TEST((workers("second") == second));
  BOOST_TEST(status("default") == "Started");
  // The idle pool got a new socket: its first request starts it.
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(observer->wait_for({"application pool default started on demand"}).has_value());
  remember();
  // The running one (its nginx held the only socket) idles, then wakes again.
  BOOST_REQUIRE(observer->wait_for({"application pool second idle for 2s; worker stopped"},
                                   std::chrono::seconds(8)));
  BOOST_TEST(eventually([&] { return !pid_alive(second[0].pid); }));
  const auto again = get("/b/x.txt");
  BOOST_TEST(again.body == "pool b", "status " << again.status << " " << again.error << "; events: "
                                               << join(observer->messages(), " | "));
  remember();
  const auto woken = running_workers("second");
  BOOST_REQUIRE(!woken.empty());
  BOOST_TEST(woken[0].pid != second[0].pid);
}

BOOST_AUTO_TEST_CASE(idle_pools_start_as_the_plugin_exits_and_serve_while_it_is_gone) {
  add_site_and_py_app([](const std::string& name) { return idling_pool(name); });
  start();
  BOOST_TEST(workers("default").empty());
  BOOST_TEST(workers("py").empty());

  const auto error = run([&](completion done) { web->hand_over(done); });
  BOOST_REQUIRE_MESSAGE(!error, error.value_or(""));
  // The application process starts now; the static pool's keeper will start
  // its nginx on demand.
  BOOST_TEST(!workers("py").empty());
  BOOST_TEST(workers("default").empty());
  BOOST_TEST(observer->wait_for({"application pool py started as the plugin exits"}).has_value());
  const std::string state = web->save_state();
  // The plugin is gone: both serve.
  lose_plugin();
  const auto app = get("/py/hello");
  BOOST_TEST(app.status == 200, app.status << " " << app.body);
  BOOST_TEST(get("/file.txt").status == 200);

  // The recovered site finds them running and idles them out again.
  recover_plugin(state);
  BOOST_TEST(!workers("py").empty());
  BOOST_TEST(!workers("default").empty());
  BOOST_TEST(
      observer
          ->wait_for({"application pool py idle for 2s; worker stopped"}, std::chrono::seconds(8))
          .has_value());
}

BOOST_AUTO_TEST_CASE(an_idle_pool_starts_on_demand_while_the_plugin_is_gone) {
  config.application_pools.push_back(idling_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const std::string state = web->save_state();
  const std::string data_dir = plan.data_dir;
  BOOST_TEST(workers("default").empty());
  BOOST_TEST(keeper_pids(data_dir).size() == 1u);

  // A kill -9 of the plugin: the site object goes without a hand-over.
  lose_plugin();
  const auto served = get("/file.txt");
  BOOST_TEST(served.status == 200, served.status << " " << served.body);

  // The recovered site adopts the nginx the keeper started, idles it out, and
  // then starts the pool itself again; a new keeper waits meanwhile.
  recover_plugin(state);
  BOOST_REQUIRE(!workers("default").empty());
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_REQUIRE(observer->wait_for({"application pool default idle for 2s; worker stopped"},
                                   std::chrono::seconds(8)));
  BOOST_TEST(keeper_pids(data_dir).size() == 1u);
  BOOST_TEST(get("/file.txt").body == "static file content");
  BOOST_TEST(observer->wait_for({"application pool default started on demand"}).has_value());
  remember();

  BOOST_REQUIRE(!run([&](completion done) { web->destroy(done); }));
  web.reset();
  BOOST_TEST(eventually([&] { return keeper_pids(data_dir).empty(); }));
}

BOOST_AUTO_TEST_CASE(a_request_during_the_plugins_recovery_starts_one_nginx) {
  config.application_pools.push_back(idling_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const std::string state = web->save_state();
  const std::string data_dir = plan.data_dir;
  // The keeper may start the pool just as the new plugin takes the site
  // back; whichever wins, one nginx serves and the site knows it.
  for (int round = 0; round < 8; ++round) {
    lose_plugin();
    http_response served;
    std::thread request([&] { served = get("/file.txt"); });
    std::this_thread::sleep_for(std::chrono::microseconds(round * 1000));
    recover_plugin(state);
    request.join();
    BOOST_TEST(served.status == 200, "round " << round << ": " << served.status);
    BOOST_TEST(get("/file.txt").status == 200);
    // One nginx serves: the pool's own, or the front once it took the files
    // over (the pool's own then goes after a drain of at least a second).
    const auto masters = pool_masters(data_dir, 0).size();
    const auto now = web->snapshot();
    const bool front_serves = now.pools.at(0).supervisor == now.front;
    BOOST_TEST((masters == 1u || (masters == 0u && front_serves)),
               "round " << round << ": " << masters << " nginx masters of the pool");
    // Stopping the pool stops every nginx it has: none is unknown to the site.
    BOOST_REQUIRE(!run([&](completion done) { web->stop_pools({}, done); }));
    BOOST_TEST(eventually([&] { return pool_masters(data_dir, 0).empty(); }),
               "round " << round << ": an nginx the site does not know survived the pool's stop");
    for (int pid : pool_masters(data_dir, 0)) ::kill(pid, SIGKILL);
    BOOST_REQUIRE(!run([&](completion done) { web->start_pools({}, done); }));
  }
  remember();
}

BOOST_AUTO_TEST_CASE(a_stopped_idle_pool_answers_503_and_starts_on_demand_again) {
  config.application_pools.push_back(idling_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  BOOST_TEST(!run([&](completion done) { web->stop_pools({}, done); }));
  BOOST_TEST(status("default") == "Stopped");
  BOOST_TEST(get("/file.txt").status == 503);
  BOOST_TEST(workers("default").empty());
  BOOST_TEST(!run([&](completion done) { web->start_pools({}, done); }));
  BOOST_TEST(workers("default").empty());
  BOOST_TEST(get("/file.txt").status == 200);
  remember();
}

BOOST_AUTO_TEST_CASE(recycle_follows_an_application_between_static_and_process) {
  config.application_pools.push_back(idling_pool("default"));
  config.application_pools.push_back(idling_pool("py"));
  config.applications.push_back(make_app("local/site"));
  config.applications.push_back(make_app("local/py", "py", "py"));
  alloc.write("local/py/x.txt", "static for now");
  start();
  BOOST_TEST(get("/py/x.txt").body == "static for now");
  remember();
  // An upload brings a web.config: the pool's application becomes a process.
  copy_data("httpplatform", "local/py");
  BOOST_TEST(!run([&](completion done) { web->recycle_pools({"py"}, done); }));
  const auto app = get("/py/hello");
  BOOST_TEST(app.body.find("hello from httpPlatform") != std::string::npos, app.body);
  remember();
  // And back: the front routes it to the pool's nginx again.
  std::filesystem::remove(alloc.task_dir() + "/local/py/web.config");
  BOOST_TEST(!run([&](completion done) { web->recycle_pools({"py"}, done); }));
  BOOST_TEST(get("/py/x.txt").body == "static for now");
  remember();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(on_demand_apps, app_fixture)

BOOST_AUTO_TEST_CASE(an_app_starts_on_the_first_request_and_stops_when_idle) {
  config.application_pools.push_back(idling_pool("py"));
  start();
  BOOST_TEST(workers("py").empty());
  BOOST_TEST(get("/file.txt").status == 200);  // the AlwaysRunning pool is not held up
  const auto first = get("/py/hello");
  BOOST_REQUIRE_MESSAGE(first.status == 200, first.status << " " << first.body);
  BOOST_TEST(first.body.find("hello from httpPlatform") != std::string::npos);
  remember();
  const auto pid = field(first.body, "pid");
  BOOST_TEST(pid == std::to_string(running_workers("py").at(0).pid));
  const auto woke = observer->wait_for({"application pool py started on demand"});
  BOOST_REQUIRE(woke);
  BOOST_TEST_MESSAGE(*woke);

  BOOST_REQUIRE(observer->wait_for({"application pool py idle for 2s; worker stopped"},
                                   std::chrono::seconds(8)));
  BOOST_TEST(eventually([&] { return !pid_alive(std::stoi(pid)); }));
  BOOST_TEST(status("py") == "Started");
  // A POST wakes it too, and its body reaches the new process intact.
  const auto posted = http_post("127.0.0.1", port, "/py/echo", "the body");
  BOOST_REQUIRE_MESSAGE(posted.status == 200, posted.status << " " << posted.body);
  BOOST_TEST(posted.body.find("received=the body") != std::string::npos, posted.body);
  BOOST_TEST(field(posted.body, "pid") != pid);
  remember();
}

BOOST_AUTO_TEST_CASE(a_woken_app_is_found_again_after_a_plugin_restart) {
  config.application_pools.push_back(idling_pool("py"));
  start();
  const std::string state = web->save_state();  // "py" idle then
  const auto pid = field(get("/py/").body, "pid");
  BOOST_REQUIRE(!pid.empty());
  remember();
  restart_plugin(state);
  const auto found = workers("py");
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(std::to_string(found[0].pid) == pid);
  BOOST_TEST(field(get("/py/").body, "pid") == pid);
  BOOST_REQUIRE(observer->wait_for({"application pool py idle for 2s; worker stopped"},
                                   std::chrono::seconds(8)));
  const auto again = get("/py/");
  BOOST_TEST(again.status == 200);
  BOOST_TEST(field(again.body, "pid") != pid);
  remember();
}

BOOST_AUTO_TEST_CASE(concurrent_first_requests_to_an_app_all_succeed) {
  config.application_pools.push_back(idling_pool("py"));
  start();
  const auto by_status =
      at_once(16, [&] { return http_get("127.0.0.1", port, "/py/", "localhost", 20000); });
  remember();
  BOOST_TEST(by_status.size() == 1u, describe(by_status));
  BOOST_TEST(by_status.count(200), describe(by_status));
  BOOST_TEST(running_workers("py").size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_app_that_cannot_start_trips_rapid_fail_protection) {
  driver.rapid_fail_max_crashes = 1;
  alloc.write("local/py/web.config",
              "<configuration><system.webServer><httpPlatform processPath=\"python3\" "
              "arguments=\"-c &quot;import sys; sys.exit(4)&quot;\" startupTimeLimit=\"5\"/>"
              "</system.webServer></configuration>");
  config.application_pools.push_back(idling_pool("py"));
  start();  // OnDemand: nothing runs yet, so nothing fails yet
  BOOST_TEST(get("/py/").status == 503);
  BOOST_TEST(observer->wait_for({"application pool py could not start on demand"}).has_value());
  BOOST_TEST(status("py") == "Started");
  BOOST_TEST(get("/py/").status == 503);
  BOOST_TEST(
      observer->wait_for({"application pool py stopped by rapid-fail protection"}).has_value());
  BOOST_TEST(status("py") == "Stopped");
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(front_reload_does_not_block_without_a_stdout_reader) {
  config.application_pools.push_back(running_pool("py"));
  start();
  BOOST_TEST(get("/py/").status == 200);
  // logmon goes away: nobody reads the task's stdout FIFO.
  alloc.out.reset();
  // Stopping an app pool reloads the front (its routes answer 503 now).
  const auto began = std::chrono::steady_clock::now();
  const auto error = run([&](completion done) { web->stop_pools({"py"}, done); });
  BOOST_TEST(!error, error.value_or(""));
  BOOST_TEST((std::chrono::steady_clock::now() - began < std::chrono::seconds(8)));
  BOOST_TEST(get("/py/").status == 503);
  // logmon is back: the reloaded front still logs to the task's stdout.
  alloc.out = std::make_unique<fifo_reader>(alloc.stdout_path);
  BOOST_TEST(eventually([&] {
    get("/after-reload.txt");
    return alloc.out->text().find("GET /after-reload.txt") != std::string::npos;
  }));
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
