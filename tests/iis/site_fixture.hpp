#pragma once
// One real site per test: a fake alloc dir, a backend of its own, and a
// teardown that destroys the site and SIGKILLs by PID every process the test
// has seen, so nothing outlives a failed test.

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "iis/backend.hpp"
#include "iis/unix_users.hpp"
#include "test_support.hpp"
#include "tests/iis/actor_site.hpp"

namespace nomad_iis::iis::test {

/// SIGKILLs `pid` and its descendants, children first.
inline void kill_tree(int pid) {
  if (!pid_alive(pid)) return;
  ::kill(pid, SIGSTOP);  // a stopped nginx master cannot respawn the workers killed next
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  int child = 0;
  while (in >> child) kill_tree(child);
  if (pid_alive(pid)) ::kill(pid, SIGKILL);
}

struct site_fixture {
  temp_dir root;
  fake_alloc alloc{root.path()};
  config::driver_config driver = test_driver(root.path());
  int port = free_port();
  task_context task = test_task(alloc, port);
  config::task_config config;
  std::shared_ptr<recording_observer> observer = std::make_shared<recording_observer>();
  std::unique_ptr<site_engine> engine = make_site_engine(driver);
  site_plan plan;
  std::unique_ptr<site_handle> web;
  std::set<int> seen;

  site_fixture() {
    alloc.write("local/site/index.html", "<h1>home</h1>");
    alloc.write("local/site/file.txt", "static file content");
    alloc.write("secrets/token.txt", "top secret");
    config.bindings.push_back(http_binding());
  }

  ~site_fixture() {
    if (web) {
      remember();
      run([&](completion done) { web->destroy(done); }, std::chrono::seconds(20));
      web.reset();
    }
    if (engine) {  // none while a lost plugin is not recovered yet
      for (const auto& item : engine->list_dangling({})) {
        for (int pid : item.pids) seen.insert(pid);
      }
    }
    // Children first: an nginx master killed alone leaves its workers running.
    for (int pid : seen) kill_tree(pid);
    // A site left without destroy (a lost plugin) keeps its pools' users.
    for (int pid : seen) eventually([&] { return !pid_alive(pid); }, std::chrono::seconds(2));
    remove_pool_users(plan);
  }

  /// Adds the default pool when none is configured, plans and creates the site.
  void create() {
    if (config.application_pools.empty()) {
      config.application_pools.push_back(make_pool("default"));
    }
    plan = plan_site(config, task, driver);
    web = engine->create_site(plan, observer);
  }

  /// create() + start(), requiring success.
  void start() {
    create();
    const auto error = run([&](completion done) { web->start(done); });
    BOOST_REQUIRE_MESSAGE(!error, "start failed: " + error.value_or(""));
    remember();
  }

  void remember() {
    if (!web) return;
    for (int pid : all_pids(web->snapshot())) seen.insert(pid);
  }

  /// The plugin goes away as in a kill -9: the site object and the backend
  /// are destroyed, nothing is stopped.
  void lose_plugin() {
    remember();
    web.reset();
    engine.reset();
  }

  /// A new plugin recovers the site from `state` (Nomad keeps StartTask's).
  void recover_plugin(const std::string& state) {
    engine = make_site_engine(driver);
    observer = std::make_shared<recording_observer>();
    web = engine->recover_site(state, observer);
  }

  void restart_plugin(const std::string& state) {
    lose_plugin();
    recover_plugin(state);
  }

  http_response get(const std::string& path, const std::string& host = "localhost") {
    return http_get("127.0.0.1", port, path, host);
  }

  const pool_snapshot& pool(const site_snapshot& snapshot, const std::string& name) {
    for (const auto& p : snapshot.pools) {
      if (p.name == name) return p;
    }
    BOOST_FAIL("no pool " + name);
    return snapshot.pools.front();
  }

  /// Copies tests/data/iis/<name> into the task dir at `relative`.
  void copy_data(const std::string& name, const std::string& relative) {
    const auto target = std::filesystem::path(alloc.task_dir()) / relative;
    std::filesystem::create_directories(target);
    std::filesystem::copy(std::string(IIS_TEST_DATA_DIR) + "/" + name, target,
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
  }

  /// Pool "default" serving local/site at /, and pool "py" running the
  /// httpPlatform test app at /py/; each made by `pool` (its name).
  void add_site_and_py_app(config::application_pool (*pool)(const std::string&) = running_pool) {
    copy_data("httpplatform", "local/py");
    config.application_pools.push_back(pool("default"));
    config.application_pools.push_back(pool("py"));
    config.applications.push_back(make_app("local/site"));
    config.applications.push_back(make_app("local/py", "py", "py"));
  }
};

/// The Uid line of /proc/<pid>/status (real uid).
inline int uid_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "Uid:") {
      int uid = -1;
      in >> uid;
      return uid;
    }
  }
  return -1;
}

}  // namespace nomad_iis::iis::test
