#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "iis/net_probe.hpp"
#include "iis/site_layout.hpp"
#include "iis/unix_users.hpp"
#include "site_fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

std::vector<int> sorted(std::vector<int> pids) {
  std::sort(pids.begin(), pids.end());
  return pids;
}

/// fd number -> what /proc/<pid>/fd/<fd> links to.
std::map<int, std::string> descriptors(int pid) {
  std::map<int, std::string> out;
  const auto dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::error_code error;
    const auto target = std::filesystem::read_symlink(entry.path(), error);
    if (!error) out[std::stoi(entry.path().filename().string())] = target.string();
  }
  return out;
}

/// Socket inode -> "tcp listen <port>", "tcp <state>", "unix <path>" or "unix" (unnamed).
std::map<unsigned long long, std::string> socket_owners() {
  std::map<unsigned long long, std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
      unsigned long long inode = 0;
      if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
            timeout >> inode))
        continue;
      const auto port = std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16);
      out[inode] = state == "0A" ? "tcp listen " + std::to_string(port) : "tcp " + state;
    }
  }
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, path;
    unsigned long long inode = 0;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >> inode)) continue;
    fields >> path;
    out[inode] = path.empty() ? "unix" : "unix " + path;
  }
  return out;
}

/// single_hop_static on: the site's only pool serves static files over http,
/// so the front serves them itself with its workers as the pool's user.
struct single_hop_fixture : site_fixture {
  single_hop_fixture() {
    driver.single_hop_static = true;
    alloc.write("local/site/web.config", "<configuration/>");
    config.applications.push_back(make_app("local/site"));
  }

  const pool_snapshot& the_pool() {
    snapshot_ = web->snapshot();
    return snapshot_.pools.at(0);
  }

  /// The front is the pool's nginx: its master and workers are the pool's.
  bool front_serves() {
    const auto snapshot = web->snapshot();
    const auto& pool = snapshot.pools.at(0);
    return pool.supervisor.pid != 0 && pool.supervisor == snapshot.front && !pool.workers.empty();
  }

  /// The pool's own nginx, as its pid file names it (0: none runs).
  int pool_nginx() {
    std::ifstream in(layout::pid_file(plan.data_dir, layout::pool_instance(0)));
    int pid = 0;
    if (!(in >> pid) || !pid_alive(pid)) return 0;
    return pid;
  }

  site_snapshot snapshot_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_FIXTURE_TEST_SUITE(single_hop, single_hop_fixture)

BOOST_AUTO_TEST_CASE(the_front_serves_the_files_as_the_pools_user_with_no_nginx_of_the_pool) {
  config.application_pools.push_back(running_pool("default"));
  config::virtual_directory vdir;
  vdir.alias = "img";
  vdir.path = "local/pictures";
  config.applications[0].virtual_directories.push_back(vdir);
  alloc.write("local/pictures/logo.svg", "<svg/>");
  start();
  BOOST_TEST(plan.pools[0].single_hop);

  const auto file = get("/file.txt");
  BOOST_TEST(file.status == 200);
  BOOST_TEST(file.body == "static file content");
  BOOST_TEST(get("/").body == "<h1>home</h1>");
  const auto logo = get("/img/logo.svg");
  BOOST_TEST(logo.status == 200);
  BOOST_TEST(logo.headers.find("image/svg+xml") != std::string::npos);
  BOOST_TEST(get("/missing.txt").status == 404);
  BOOST_TEST(get("/web.config").status == 404);
  BOOST_TEST(get("/secrets/token.txt").status == 404);

  BOOST_TEST(eventually([&] { return front_serves(); }));
  const auto snapshot = web->snapshot();
  // One nginx: its master and its worker, nothing of the pool's own.
  const auto pids = all_pids(snapshot);
  BOOST_TEST(std::set<int>(pids.begin(), pids.end()).size() == 2u);
  BOOST_TEST(pool_nginx() == 0);
  BOOST_TEST(std::string(to_string(snapshot.pools[0].status)) == "Started");
  if (::geteuid() == 0) {
    const auto account = find_account(pool_user_name(task.alloc_id, task.task_name, "default"));
    BOOST_REQUIRE(account.has_value());
    const auto worker = snapshot.pools[0].workers[0].pid;
    eventually([&] { return uid_of(worker) != 0; }, std::chrono::seconds(2));
    BOOST_TEST(uid_of(worker) == static_cast<int>(account->uid));
  }
  const auto usage = web->sample_usage();
  BOOST_TEST(usage.by_pool.count("default"));
  BOOST_TEST(
      eventually([&] { return alloc.out->text().find("GET /file.txt") != std::string::npos; }),
      "access log on the task's stdout: " << alloc.out->text());

  BOOST_TEST(!run([&](completion done) { web->stop(std::chrono::seconds(5), "", done); }));
  for (int pid : pids) BOOST_TEST(!pid_alive(pid), "pid " << pid << " still runs");
  BOOST_TEST(!check_bindable("127.0.0.1", port).has_value());
}

BOOST_AUTO_TEST_CASE(a_front_worker_holds_only_the_tasks_own_files_and_sockets) {
  // It runs as the pool's user, which can read its descriptors (and ptrace it).
  config.application_pools.push_back(running_pool("default"));
  start();
  BOOST_REQUIRE(eventually([&] { return front_serves(); }));
  const auto worker = the_pool().workers.at(0).pid;
  // Its unix sockets are named relative to its folder (sun_path is short).
  const auto folder = std::filesystem::read_symlink("/proc/" + std::to_string(worker) + "/cwd");
  BOOST_TEST(folder.string() == plan.data_dir);
  const auto sockets = socket_owners();
  std::size_t listeners = 0;
  for (const auto& [fd, target] : descriptors(worker)) {
    BOOST_TEST_MESSAGE(fd << " -> " << target);
    unsigned long long inode = 0;
    if (std::sscanf(target.c_str(), "socket:[%llu]", &inode) == 1) {
      const auto owner = sockets.find(inode);
      BOOST_REQUIRE_MESSAGE(owner != sockets.end(),
                            "socket " << target << " is neither tcp nor unix");
      const auto& what = owner->second;
      if (what == "tcp listen " + std::to_string(port)) ++listeners;
      const auto named = what.substr(what.find(' ') + 1);
      BOOST_TEST((what == "tcp listen " + std::to_string(port) || what == "unix" ||
                  (what.rfind("unix ", 0) == 0 && named.find("..") == std::string::npos &&
                   (named.front() != '/' || named.rfind(plan.data_dir + "/", 0) == 0))),
                 "fd " << fd << ": " << what);
    } else if (target.rfind("anon_inode:", 0) != 0 && target.rfind("pipe:", 0) != 0) {
      BOOST_TEST((target == "/dev/null" || target.rfind(plan.data_dir + "/", 0) == 0 ||
                  target.rfind(task.alloc_dir + "/", 0) == 0),
                 "fd " << fd << ": " << target);
    }
  }
  BOOST_TEST(listeners >= 1u);
}

BOOST_AUTO_TEST_CASE(a_recycle_under_kept_alive_load_loses_no_request) {
  config.application_pools.push_back(running_pool("default"));
  start();
  const auto before = the_pool().workers;
  kept_alive_load load(port, "/file.txt", 4);
  BOOST_REQUIRE(eventually([&] { return load.served() > 50; }));
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(!run([&](completion done) { web->recycle_pools({"default"}, done); }));
    remember();
    const int served = load.served();
    BOOST_TEST(eventually([&] { return load.served() > served + 50; }));
  }
  load.stop();
  BOOST_TEST(load.failed() == 0, "failed: " << load.failed() << ", last: " << load.last_failure());
  const auto after = the_pool().workers;
  BOOST_REQUIRE(!after.empty());
  for (const auto& worker : after)
    BOOST_TEST((std::find(before.begin(), before.end(), worker) == before.end()));
  for (const auto& worker : before) BOOST_TEST(eventually([&] { return !pid_alive(worker.pid); }));
}

BOOST_AUTO_TEST_CASE(recycles_while_an_on_demand_pool_wakes_under_load_lose_no_request) {
  config.application_pools.push_back(make_pool("default"));
  start();
  kept_alive_load load(port, "/file.txt", 4);
  for (int i = 0; i < 30; ++i) {
    const auto error = run([&](completion done) { web->recycle_pools({"default"}, done); });
    BOOST_TEST(!error.has_value(), *error);
  }
  remember();
  const int served = load.served();
  BOOST_TEST(eventually([&] { return load.served() > served + 50; }));
  load.stop();
  BOOST_TEST(load.failed() == 0, "failed: " << load.failed() << ", last: " << load.last_failure());
}

BOOST_AUTO_TEST_CASE(a_stopped_pool_answers_503_and_serves_again_once_started) {
  config.application_pools.push_back(running_pool("default"));
  start();
  BOOST_TEST(!run([&](completion done) { web->stop_pools({"default"}, done); }));
  remember();
  BOOST_TEST(std::string(to_string(the_pool().status)) == "Stopped");
  BOOST_TEST(get("/file.txt").status == 503);
  BOOST_TEST(!run([&](completion done) { web->start_pools({"default"}, done); }));
  remember();
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(eventually([&] { return front_serves(); }));
}

BOOST_AUTO_TEST_CASE(once_a_stop_or_start_is_answered_no_kept_connection_gets_the_old_answer) {
  config.application_pools.push_back(running_pool("default"));
  start();
  kept_connection before_stop(port);
  BOOST_REQUIRE(before_stop.get("/file.txt") == 200);
  BOOST_TEST(!run([&](completion done) { web->stop_pools({"default"}, done); }));
  // Closed (a client then opens a new connection and gets 503), never 200.
  const int after_stop = before_stop.get("/file.txt");
  BOOST_TEST((after_stop == 0 || after_stop == 503), "got " << after_stop);
  kept_connection before_start(port);
  BOOST_REQUIRE(before_start.get("/file.txt") == 503);
  BOOST_TEST(!run([&](completion done) { web->start_pools({"default"}, done); }));
  const int after_start = before_start.get("/file.txt");
  BOOST_TEST((after_start == 0 || after_start == 200), "got " << after_start);
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(a_first_request_wakes_the_pool_then_the_front_takes_its_files_over) {
  auto pool_block = make_pool("default");
  // Longer than the takeover (the front's previous generation drains a second first).
  pool_block.idle_timeout = std::chrono::seconds(4);
  config.application_pools.push_back(pool_block);
  start();
  BOOST_TEST(the_pool().workers.empty(), "OnDemand: no worker before the first request");
  BOOST_TEST(get("/file.txt").body == "static file content");
  BOOST_REQUIRE(observer->wait_for({"application pool default started on demand"}));
  // The pool's own nginx answered; the front takes over, and it goes.
  BOOST_TEST(
      eventually([&] { return front_serves() && pool_nginx() == 0; }, std::chrono::seconds(15)));
  remember();
  // Requests keep it running: the front's workers stay.
  const auto serving = the_pool().workers;
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(get("/file.txt").status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
  for (const auto& worker : serving)
    BOOST_TEST(pid_alive(worker.pid),
               "worker " << worker.pid << "; events: " << join(observer->messages(), " | "));
  // Idle: the front waits on the pool's socket again, and a request wakes it.
  BOOST_REQUIRE(observer->wait_for({"application pool default idle for 4s; worker stopped"},
                                   std::chrono::seconds(10)));
  BOOST_TEST(eventually([&] { return the_pool().supervisor.pid == 0; }));
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(eventually([&] { return front_serves(); }, std::chrono::seconds(15)));
  remember();
}

BOOST_AUTO_TEST_CASE(crashed_workers_are_reported_and_trip_rapid_fail_protection) {
  driver.rapid_fail_max_crashes = 1;
  driver.rapid_fail_interval = std::chrono::minutes(1);
  config.application_pools.push_back(running_pool("default"));
  start();
  const auto worker = the_pool().workers.at(0);
  ::kill(worker.pid, SIGKILL);
  const auto message = observer->wait_for({"worker " + std::to_string(worker.pid) +
                                           " of pool default exited (signal 9); restarted as"});
  BOOST_REQUIRE(message);
  const int replacement = std::stoi(message->substr(message->rfind(' ') + 1));
  BOOST_TEST(eventually([&] {
    const auto workers = the_pool().workers;
    return workers.size() == 1 && workers[0].pid == replacement;
  }));
  remember();
  BOOST_TEST(get("/file.txt").status == 200);
  ::kill(replacement, SIGKILL);
  BOOST_REQUIRE(observer->wait_for({"rapid-fail protection", "2 worker crashes"}));
  BOOST_TEST(eventually([&] { return get("/file.txt").status == 503; }));
  BOOST_TEST(std::string(to_string(the_pool().status)) == "Stopped");
  remember();
}

BOOST_AUTO_TEST_CASE(a_killed_master_is_replaced_on_the_same_bindings) {
  config.application_pools.push_back(running_pool("default"));
  start();
  const auto before = the_pool();
  ::kill(before.supervisor.pid, SIGKILL);
  BOOST_TEST(
      observer->wait_for({"(nginx master) of pool default exited", "restarted as"}).has_value());
  remember();
  BOOST_TEST(eventually([&] { return front_serves(); }));
  const auto after = the_pool();
  BOOST_TEST(after.supervisor.pid != before.supervisor.pid);
  BOOST_TEST(web->snapshot().running);
  for (const auto& orphan : before.workers)
    BOOST_TEST(eventually([&] { return !pid_alive(orphan.pid); }));
  BOOST_TEST(get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(a_plugin_restart_keeps_the_front_serving_the_files) {
  config.application_pools.push_back(running_pool("default"));
  start();
  const auto before = web->snapshot();
  const std::string state = web->save_state();
  lose_plugin();
  BOOST_TEST(get("/file.txt").status == 200);
  recover_plugin(state);
  BOOST_TEST(eventually([&] { return front_serves(); }));
  const auto after = web->snapshot();
  BOOST_TEST(sorted(all_pids(after)) == sorted(all_pids(before)), boost::test_tools::per_element());
  BOOST_TEST(pool_nginx() == 0);
  BOOST_TEST(get("/file.txt").status == 200);
  // Still its pool's: a recycle is a new generation of the front.
  BOOST_TEST(!run([&](completion done) { web->recycle_pools({"default"}, done); }));
  remember();
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(web->snapshot().front.pid != before.front.pid);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
