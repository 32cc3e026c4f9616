#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include "config/error.hpp"
#include "iis/net_probe.hpp"
#include "iis/pool_activity.hpp"
#include "iis/site_layout.hpp"
#include "iis/unix_users.hpp"
#include "site_fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_FIXTURE_TEST_SUITE(static_content, site_fixture)

BOOST_AUTO_TEST_CASE(serves_files_and_stops_without_leftovers) {
  config.applications.push_back(make_app("local/site"));
  config::virtual_directory vdir;
  vdir.alias = "img";
  vdir.path = "local/pictures";
  config.applications[0].virtual_directories.push_back(vdir);
  alloc.write("local/pictures/logo.svg", "<svg/>");
  start();

  auto file = get("/file.txt");
  BOOST_TEST(file.status == 200);
  BOOST_TEST(file.body == "static file content");
  BOOST_TEST(get("/").body == "<h1>home</h1>");
  auto logo = get("/img/logo.svg");
  BOOST_TEST(logo.status == 200);
  BOOST_TEST(logo.headers.find("image/svg+xml") != std::string::npos);
  BOOST_TEST(get("/missing.txt").status == 404);

  // The OnDemand pool's first request was answered by the worker it woke; the
  // backend learns that worker's PID a moment later.
  BOOST_TEST(eventually([&] {
    const auto pools = web->snapshot().pools;
    return !pools.empty() && !pools[0].workers.empty();
  }));
  const auto snapshot = web->snapshot();
  BOOST_TEST(snapshot.running);
  BOOST_TEST(snapshot.front.pid > 0);
  BOOST_REQUIRE(snapshot.pools.size() == 1u);
  BOOST_TEST(std::string(to_string(snapshot.pools[0].status)) == "Started");
  BOOST_TEST(snapshot.pools[0].supervisor.pid > 0);
  BOOST_REQUIRE(!snapshot.pools[0].workers.empty());
  if (::geteuid() == 0) {
    // ApplicationPoolIdentity: an account of the pool's own, not www-data (33).
    const auto account = find_account(pool_user_name(task.alloc_id, task.task_name, "default"));
    BOOST_REQUIRE(account.has_value());
    BOOST_TEST(account->uid != 33u);
    // Known from its fork, a moment before nginx switches it to its user.
    const auto worker = snapshot.pools[0].workers[0].pid;
    eventually([&] { return uid_of(worker) != 0; }, std::chrono::seconds(2));
    BOOST_TEST(uid_of(worker) == static_cast<int>(account->uid));
  }
  BOOST_TEST(::getsid(snapshot.front.pid) == snapshot.front.pid);

  const auto usage = web->sample_usage();
  BOOST_TEST(usage.by_pool.count(""));
  BOOST_TEST(usage.by_pool.count("default"));
  BOOST_TEST(usage.by_pool.at("default").front().rss_bytes > 0u);

  BOOST_TEST(
      eventually([&] { return alloc.out->text().find("GET /file.txt") != std::string::npos; }),
      "access log on the task's stdout: " << alloc.out->text());

  const auto pids = all_pids(snapshot);
  BOOST_TEST(!run([&](completion done) { web->stop(std::chrono::seconds(5), "", done); }));
  for (int pid : pids) BOOST_TEST(!pid_alive(pid), "pid " << pid << " still runs");
  BOOST_TEST(!check_bindable("127.0.0.1", port).has_value(), "port " << port << " still held");
  const auto after = web->snapshot();
  BOOST_TEST(!after.running);
  BOOST_TEST(std::string(to_string(after.pools[0].status)) == "Stopped");
  BOOST_TEST(std::filesystem::exists(plan.data_dir));
  BOOST_TEST(!run([&](completion done) { web->destroy(done); }));
  BOOST_TEST(!std::filesystem::exists(plan.data_dir));
}

BOOST_AUTO_TEST_CASE(secrets_are_never_served) {
  alloc.write("web.config", "<configuration/>");
  config.applications.push_back(make_app("."));          // the task dir: holds secrets/
  config.applications.push_back(make_app("..", "all"));  // the alloc dir
  config.application_pools.push_back(make_pool("default"));
  // Jobs can no longer name these folders (both named in one message) ...
  BOOST_CHECK_EXCEPTION(plan_site(config, task, driver), config::config_error,
                        [](const config::config_error& e) {
                          const std::string message = e.what();
                          return message.find("application[0].path: ") != std::string::npos &&
                                 message.find("application[1].path: ") != std::string::npos;
                        });
  config.applications[0].path = "local/site";
  BOOST_CHECK_EXCEPTION(
      plan_site(config, task, driver), config::config_error,
      [](const config::config_error& e) { return e.path() == "application[1].path"; });
  // ... and nginx still never serves secrets/ when a plan names them anyway.
  config.applications[1].path = "local";
  plan = plan_site(config, task, driver);
  plan.applications[0].physical_path = alloc.task_dir();
  plan.applications[1].physical_path = alloc.alloc_dir;
  web = engine->create_site(plan, observer);
  BOOST_REQUIRE(!run([&](completion done) { web->start(done); }));
  remember();
  BOOST_TEST(get("/local/site/file.txt").status == 200);
  BOOST_TEST(get("/all/web/local/site/file.txt").status == 200);
  for (const char* path :
       {"/secrets/token.txt", "/secrets/", "/secrets", "/all/web/secrets/token.txt",
        "/local/../secrets/token.txt", "/%73ecrets/token.txt", "/all/web/secrets", "/web.config",
        "/local/../web.config"}) {
    const auto response = get(path);
    BOOST_TEST((response.status == 404 || response.status == 403),
               path << " answered " << response.status << ": " << response.body);
    BOOST_TEST(response.body.find("top secret") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(placeholder_fills_empty_application_folders) {
  alloc.write("local/placeholder-src/index.html", "placeholder page");
  driver.placeholder_app_path = alloc.task_dir() + "/local/placeholder-src";
  config.applications.push_back(make_app("local/empty"));
  start();
  BOOST_TEST(get("/").body == "placeholder page");
}

BOOST_AUTO_TEST_CASE(stopping_one_pool_leaves_the_other_serving) {
  alloc.write("local/b/x.txt", "pool b");
  config.application_pools.push_back(make_pool("default"));
  config.application_pools.push_back(make_pool("second"));
  config.applications.push_back(make_app("local/site"));
  config.applications.push_back(make_app("local/b", "b", "second"));
  start();
  BOOST_TEST(get("/b/x.txt").body == "pool b");
  BOOST_TEST(run([&](completion done) { web->stop_pools({"nope"}, done); }).value_or("") ==
             "unknown application pool \"nope\" (pools: default, second)");

  const auto second_pids = pool(web->snapshot(), "second").workers;
  BOOST_TEST(!run([&](completion done) { web->stop_pools({"second"}, done); }));
  BOOST_TEST(get("/b/x.txt").status == 503);
  BOOST_TEST(get("/file.txt").status == 200);
  const auto snapshot = web->snapshot();
  BOOST_TEST(std::string(to_string(pool(snapshot, "second").status)) == "Stopped");
  BOOST_TEST(pool(snapshot, "second").workers.empty());
  BOOST_TEST(std::string(to_string(pool(snapshot, "default").status)) == "Started");
  for (const auto& worker : second_pids) BOOST_TEST(!pid_alive(worker.pid));

  BOOST_TEST(!run([&](completion done) { web->start_pools({"second"}, done); }));
  BOOST_TEST(get("/b/x.txt").status == 200);
  remember();
}

BOOST_AUTO_TEST_CASE(tcp_level_pool_closes_connections_when_stopped) {
  auto pool_block = make_pool("default");
  pool_block.service_unavailable_response = config::unavailable_response::tcp_level;
  config.application_pools.push_back(pool_block);
  config.applications.push_back(make_app("local/site"));
  start();
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(!run([&](completion done) { web->stop_pools({}, done); }));
  const auto response = get("/file.txt");
  BOOST_TEST(response.status == 0);
  BOOST_TEST(response.closed_without_response, "got: " << response.headers);
}

BOOST_AUTO_TEST_CASE(overlapped_recycle_loses_no_request) {
  config.application_pools.push_back(running_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const auto before = web->snapshot().pools[0].workers;
  std::atomic<bool> done{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&] {
      while (!done) {
        const auto response = get("/file.txt");
        if (response.status == 200 && response.body == "static file content") {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    BOOST_TEST(!run([&](completion d) { web->recycle_pools({}, d); }));
    remember();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  done = true;
  for (auto& client : clients) client.join();
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(ok.load() > 50);
  const auto after = web->snapshot().pools[0].workers;
  BOOST_REQUIRE(!after.empty());
  for (const auto& worker : after) {
    BOOST_TEST((std::find(before.begin(), before.end(), worker) == before.end()));
  }
  // The old generation drains and exits.
  for (const auto& worker : before) {
    BOOST_TEST(eventually([&] { return !pid_alive(worker.pid); }));
  }
}

BOOST_AUTO_TEST_CASE(the_front_keeps_its_connection_to_a_pool_for_a_second) {
  driver.single_hop_static = false;  // the hop whose connection this is
  config.application_pools.push_back(running_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const auto workers = web->snapshot().pools[0].workers;
  BOOST_REQUIRE(!workers.empty());
  const auto kept = [&] { return open_unix_connections(workers, layout::pool_bind_name(0)); };
  // Requests one after another reuse one connection: the pool accepts no new one each time.
  std::size_t most = 0;
  for (int i = 0; i < 20; ++i) {
    BOOST_TEST(get("/file.txt").status == 200);
    most = std::max(most, kept());
  }
  BOOST_TEST(most == 1u);
  // Unused for a second it goes, so an idle pool has none open.
  BOOST_TEST(eventually([&] { return kept() == 0u; }));
}

BOOST_AUTO_TEST_CASE(non_overlapped_recycle_restarts_the_pool) {
  auto pool_block = running_pool("default");
  pool_block.disable_overlapped_recycle = true;
  config.application_pools.push_back(pool_block);
  config.applications.push_back(make_app("local/site"));
  start();
  const auto before = web->snapshot().pools[0].supervisor;
  BOOST_TEST(!run([&](completion d) { web->recycle_pools({"default"}, d); }));
  remember();
  const auto after = web->snapshot().pools[0];
  BOOST_TEST(after.supervisor.pid != before.pid);
  BOOST_TEST(!pid_alive(before.pid));
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(periodic_restart_recycles_the_pool) {
  auto pool_block = running_pool("default");
  pool_block.periodic_restart = std::chrono::milliseconds(400);
  config.application_pools.push_back(pool_block);
  config.applications.push_back(make_app("local/site"));
  start();
  const auto before = web->snapshot().pools[0].workers;
  BOOST_TEST(observer->wait_for({"application pool default recycled (periodic_restart 400ms)"})
                 .has_value());
  remember();
  BOOST_TEST(eventually([&] {
    const auto after = web->snapshot().pools[0].workers;
    return !after.empty() && !(after == before);
  }));
  remember();
  BOOST_TEST(get("/file.txt").status == 200);
  // Stopping the pool ends the timer.
  BOOST_TEST(!run([&](completion done) { web->stop_pools({}, done); }));
  // The stop's own event travels apart from its reply: counted once it came.
  BOOST_TEST(observer->wait_for({"Application pool default stopped"}).has_value());
  const auto events = observer->messages().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  const auto later = observer->messages();
  std::string news;
  for (auto i = events; i < later.size(); ++i) news += " [" + later[i] + "]";
  BOOST_TEST(later.size() == events, "events after the stop:" << news);
}

BOOST_AUTO_TEST_CASE(https_with_a_self_signed_certificate) {
  config.bindings[0].type = config::binding_type::https;
  config.bindings[0].hostname = "shop.example";
  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->use_self_signed = true;
  config.applications.push_back(make_app("local/site"));
  start();
  BOOST_TEST(observer->wait_for({"self-signed certificate created", "shop.example"}).has_value());
  const auto result = https_get("127.0.0.1", port, "/file.txt", "shop.example");
  BOOST_REQUIRE_MESSAGE(result.error.empty(), result.error);
  BOOST_TEST(result.response.status == 200);
  BOOST_TEST(result.response.body == "static file content");
  const std::vector<std::string> dns{"shop.example", "localhost"};
  BOOST_TEST(result.dns_names == dns, boost::test_tools::per_element());
  BOOST_TEST(result.ip_names == std::vector<std::string>{"127.0.0.1"},
             boost::test_tools::per_element());
  // Other host names get IIS's "400 Bad Request - Invalid Hostname".
  BOOST_TEST(https_get("127.0.0.1", port, "/file.txt", "other.example").response.status == 400);
}

BOOST_AUTO_TEST_CASE(require_sni_refuses_clients_without_it) {
  config.bindings[0].type = config::binding_type::https;
  config.bindings[0].hostname = "sni.example";
  config.bindings[0].require_sni = true;
  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->use_self_signed = true;
  config.applications.push_back(make_app("local/site"));
  start();
  const auto with_sni = https_get("127.0.0.1", port, "/file.txt", "sni.example");
  BOOST_TEST(with_sni.error.empty(), with_sni.error);
  BOOST_TEST(with_sni.response.status == 200);
  const auto without = https_get("127.0.0.1", port, "/file.txt", "");
  BOOST_TEST(!without.error.empty(), "a client without SNI got " << without.response.status);
}

BOOST_AUTO_TEST_CASE(start_fails_cleanly_when_the_port_is_taken) {
  config.applications.push_back(make_app("local/site"));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::listen(fd, 1);
  create();
  const auto error = run_failure([&](completion done) { web->start(done); });
  ::close(fd);
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message ==
             "binding 127.0.0.1:" + std::to_string(port) + ": address already in use");
  // Retryable: Nomad restarts the task, and the port may be free by then.
  BOOST_TEST(to_string(error->code) == std::string("port_in_use"));
  BOOST_TEST(!std::filesystem::exists(plan.data_dir));
  const auto snapshot = web->snapshot();
  BOOST_TEST(!snapshot.running);
  BOOST_TEST(all_pids(snapshot).empty());
}

BOOST_AUTO_TEST_CASE(killed_worker_is_replaced_and_reported) {
  config.application_pools.push_back(running_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const auto worker = web->snapshot().pools[0].workers.at(0);
  ::kill(worker.pid, SIGKILL);
  const auto message = observer->wait_for({"worker " + std::to_string(worker.pid) +
                                           " of pool default exited (signal 9); restarted as"});
  BOOST_REQUIRE_MESSAGE(message, "events: " << observer->messages().size());
  const int replacement = std::stoi(message->substr(message->rfind(' ') + 1));
  BOOST_TEST(eventually([&] {
    const auto workers = web->snapshot().pools[0].workers;
    return workers.size() == 1 && workers[0].pid == replacement;
  }));
  remember();
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(killed_pool_master_is_restarted) {
  config.application_pools.push_back(running_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const auto before = web->snapshot().pools[0];
  ::kill(before.supervisor.pid, SIGKILL);
  BOOST_TEST(
      observer->wait_for({"(nginx master) of pool default exited", "restarted as"}).has_value());
  remember();
  const auto after = web->snapshot().pools[0];
  BOOST_TEST(after.supervisor.pid != before.supervisor.pid);
  BOOST_TEST(std::string(to_string(after.status)) == "Started");
  for (const auto& orphan : before.workers) {
    BOOST_TEST(eventually([&] { return !pid_alive(orphan.pid); }));
  }
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(rapid_fail_protection_stops_the_pool) {
  driver.rapid_fail_max_crashes = 2;
  driver.rapid_fail_interval = std::chrono::minutes(1);
  config.application_pools.push_back(running_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  for (int crash = 1; crash <= 2; ++crash) {
    const auto worker = web->snapshot().pools[0].workers.at(0);
    ::kill(worker.pid, SIGKILL);
    const bool reported =
        observer->wait_for({"worker " + std::to_string(worker.pid), "restarted as"}).has_value();
    const bool replaced = reported && eventually([&] {
                            const auto workers = web->snapshot().pools[0].workers;
                            return !workers.empty() && !(workers[0] == worker);
                          });
    if (!replaced) {  // which events came instead tells why
      std::string d = "killed " + std::to_string(worker.pid) + "; workers:";
      const auto now = web->snapshot();  // kept: the loop below reads into it
      for (const auto& w : now.pools.at(0).workers) d += " " + std::to_string(w.pid);
      for (const auto& m : observer->messages()) d += "\n  " + m;
      BOOST_FAIL(d);
    }
    remember();
  }
  ::kill(web->snapshot().pools[0].workers.at(0).pid, SIGKILL);
  const auto message = observer->wait_for({"rapid-fail protection", "3 worker crashes"});
  BOOST_REQUIRE_MESSAGE(message, "no rapid-fail event");
  BOOST_TEST(std::string(to_string(web->snapshot().pools[0].status)) == "Stopped");
  BOOST_TEST(get("/file.txt").status == 503);
  // A manual start resets the protection.
  BOOST_TEST(!run([&](completion done) { web->start_pools({}, done); }));
  remember();
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(front_crash_ends_the_site) {
  config.applications.push_back(make_app("local/site"));
  start();
  const auto snapshot = web->snapshot();
  ::kill(snapshot.front.pid, SIGKILL);
  BOOST_REQUIRE(observer->wait_for_exit(std::chrono::seconds(10)));
  const auto info = *observer->exit();
  BOOST_TEST(info.signal == 9);
  BOOST_TEST(info.reason.find("front nginx") != std::string::npos);
  for (int pid : all_pids(snapshot)) {
    BOOST_TEST(eventually([&] { return !pid_alive(pid); }), "pid " << pid);
  }
  BOOST_TEST(eventually([&] { return !check_bindable("127.0.0.1", port).has_value(); }));
  BOOST_TEST(!web->snapshot().running);
}

BOOST_AUTO_TEST_CASE(ignored_options_are_reported_once) {
  auto pool_block = make_pool("default");
  pool_block.managed_runtime_version = "v4.0";
  config.application_pools.push_back(pool_block);
  config.applications.push_back(make_app("local/site"));
  start();
  const auto message =
      observer->wait_for({"options without effect on Linux", "managed_runtime_version"});
  BOOST_TEST(message.has_value());
}

BOOST_AUTO_TEST_CASE(pools_serving_maps_paths_to_pools) {
  config.application_pools.push_back(make_pool("default"));
  config.application_pools.push_back(make_pool("api"));
  config.applications.push_back(make_app("local/site"));
  config.applications.push_back(make_app("local/api", "api", "api"));
  create();
  BOOST_TEST(web->pools_serving(alloc.task_dir() + "/local/site/css") ==
                 std::vector<std::string>{"default"},
             boost::test_tools::per_element());
  const std::vector<std::string> both{"default", "api"};
  BOOST_TEST(web->pools_serving(alloc.task_dir() + "/local") == both,
             boost::test_tools::per_element());
  BOOST_TEST(web->pools_serving(alloc.task_dir() + "/tmp").empty());
}

BOOST_AUTO_TEST_CASE(probe_reports_the_nginx_version) {
  auto info = engine->probe();
  BOOST_TEST(info.healthy);
  BOOST_TEST(info.version.rfind("nginx/1.", 0) == 0u);

  auto broken = driver;
  broken.nginx_path = "/nonexistent/nginx";
  engine->configure(broken);
  info = engine->probe();
  BOOST_TEST(!info.healthy);
  BOOST_TEST(info.reason.find("/nonexistent/nginx") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
