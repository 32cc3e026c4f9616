// The pool actors' flows, deterministic: CAF's test coordinator with
// virtual time, and a fake launcher standing in for nginx and the
// application processes (the test says when workers fork, when a graceful
// stop is over, when a request arrives, when something crashes). Sites are
// planned in C++ as for a plugin that is not root (the pools run as
// www-data, no Unix user is made) and started with msg::start_planned on a
// task actor of their own.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <fstream>

#include "actors/driver_state.hpp"
#include "actors/task_actor.hpp"
#include "actors/timeouts.hpp"
#include "config/task_config.hpp"
#include "iis/site_layout.hpp"
#include "iis/state_codec.hpp"
#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;
using namespace std::chrono_literals;

namespace {

/// An httpPlatform application whose process is /bin/sh (never run: the
/// launcher is a fake, but its processPath must resolve).
constexpr const char* app_web_config = R"(<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <handlers>
      <add name="httpPlatformHandler" path="*" verb="*" modules="httpPlatformHandler" resourceType="Unspecified" />
    </handlers>
    <httpPlatform processPath="/bin/sh" arguments="-c &quot;exec sleep 1000&quot;" startupTimeLimit="20" />
  </system.webServer>
</configuration>
)";

int as_int(iis::pool_status status) {
  return static_cast<int>(status);
}

caf::behavior collect_events(caf::event_based_actor*,
                             std::shared_ptr<std::vector<msg::task_event>> seen) {
  return {[seen](const msg::task_event& event) { seen->push_back(event); }};
}

config::application_pool pool_block(const std::string& name, config::start_mode mode) {
  config::application_pool pool;
  pool.name = name;
  pool.start_mode = mode;
  return pool;
}

config::application app_block(const std::string& path, const std::string& pool,
                              const std::string& alias = "") {
  config::application app;
  app.path = path;
  app.application_pool = pool;
  app.alias = alias;
  return app;
}

struct pool_fixture : fixture {
  std::shared_ptr<std::vector<msg::task_event>> events =
      std::make_shared<std::vector<msg::task_event>>();
  /// The driver state the last start answered with (what Nomad keeps).
  std::string state;

  pool_fixture() {
    auto collector = sys.spawn(collect_events, events);
    own(collector);
    caf::anon_send(actors.hub, atom::subscribe_v, collector);
    run();
  }

  /// A folder below the task holding an application process's web.config.
  std::string app_folder(const std::string& relative) {
    const auto dir = alloc_dir / "web" / relative;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "web.config") << app_web_config;
    return relative;
  }

  /// The plan StartTask makes for `cfg` (an http binding on "httplabel"
  /// added), as a plugin that is not root makes it.
  iis::site_plan plan(config::task_config cfg) {
    if (cfg.bindings.empty()) {
      config::binding binding;
      binding.port = "httplabel";
      cfg.bindings.push_back(binding);
    }
    config::validate(cfg, driver);
    auto plan = iis::plan_site(cfg, task(), driver, /*as_root=*/false);
    plan.directory_security = false;
    return plan;
  }

  /// One static application in local/ served by one pool.
  iis::site_plan static_plan(config::application_pool pool) {
    config::task_config cfg;
    cfg.application_pools.push_back(pool);
    cfg.applications.push_back(app_block("local", pool.name));
    return plan(cfg);
  }

  /// One pool "api" whose application is a process (app_folder("api")).
  iis::site_plan app_plan(config::start_mode mode) {
    config::task_config cfg;
    cfg.application_pools = {pool_block("api", mode)};
    cfg.applications = {app_block(app_folder("api"), "api")};
    return plan(cfg);
  }

  /// The static pool "default" (local/) beside a pool "api" whose
  /// application, at /api, is a process; both start as `mode` says.
  iis::site_plan static_and_app_plan(config::start_mode mode) {
    config::task_config cfg;
    cfg.application_pools = {pool_block("default", mode), pool_block("api", mode)};
    cfg.applications = {app_block("local", "default"), app_block(app_folder("api"), "api", "api")};
    return plan(cfg);
  }

  caf::actor spawn_task() {
    auto task = sys.spawn(nomad_iis::task_actor,
                          site_services{backend,
                                        procs,
                                        backend->host(),
                                        actors.workers,
                                        actors.file_workers,
                                        actors.tool_workers,
                                        {},
                                        actors.websites},
                          actors.hub, driver, caf::actor_addr{},
                          std::make_shared<nomad_iis::status_cell>());
    own(task);
    return task;
  }

  /// Starts the site on a task actor of its own and runs until it answers.
  caf::actor start(const iis::site_plan& plan) {
    auto task = spawn_task();
    auto started = ask<msg::started_task>(task, msg::start_planned{this->task(), plan});
    if (!started->value)
      throw std::runtime_error("start did not succeed: " +
                               (started->error ? message_of(*started->error) : "no answer"));
    state = started->value->driver_state;
    return task;
  }

  iis::pool_snapshot pool_of(const caf::actor& task, std::size_t index) {
    return snapshot(task).pools.at(index);
  }

  std::size_t events_with(const std::string& text) const {
    return static_cast<std::size_t>(
        std::count_if(events->begin(), events->end(),
                      [&](const auto& e) { return e.message.find(text) != std::string::npos; }));
  }

  /// The plugin is lost (kill -9): its actors end, its processes run on.
  void lose_plugin(const caf::actor& task) {
    caf::anon_send_exit(task, caf::exit_reason::kill);
    run();
  }
};

std::vector<iis::process_ref> by_pid(std::vector<iis::process_ref> processes) {
  std::sort(processes.begin(), processes.end(),
            [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return processes;
}

bool has_call_starting(const std::vector<std::string>& calls, const std::string& prefix) {
  return std::any_of(calls.begin(), calls.end(),
                     [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
}

bool has_kill(const std::vector<std::string>& calls) {
  return std::any_of(calls.begin(), calls.end(), [](const std::string& c) {
    return c.size() > 8 && c.compare(c.size() - 8, 8, " SIGKILL") == 0;
  });
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(pool_flows, pool_fixture)

BOOST_AUTO_TEST_CASE(an_always_running_static_pool_starts_with_its_site) {
  const auto plan = static_plan(pool_block("default", config::start_mode::always_running));
  procs->workers_at_once = false;
  auto task = spawn_task();
  auto started = ask<msg::started_task>(task, msg::start_planned{this->task(), plan});
  BOOST_TEST(!started->answered());
  const auto pool = procs->master("pool-0");
  const auto front = procs->master("front");
  BOOST_REQUIRE(pool.pid != 0);
  BOOST_REQUIRE(front.pid != 0);
  // The pool's nginx runs on an inherited socket (connecting to it proves
  // nothing): the start waits until it forked its workers.
  procs->fork_workers(front.pid);
  advance(1s);
  BOOST_TEST(!started->answered());
  procs->fork_workers(pool.pid);
  advance(gone_interval);
  BOOST_REQUIRE(started->value);
  const auto snap = snapshot(task);
  BOOST_TEST(snap.running);
  BOOST_TEST((snap.front == front));
  BOOST_REQUIRE(snap.pools.size() == 1u);
  BOOST_TEST(snap.pools[0].name == "default");
  BOOST_TEST(as_int(snap.pools[0].status) == as_int(iis::pool_status::started));
  BOOST_TEST((snap.pools[0].supervisor == pool));
  BOOST_TEST((snap.pools[0].workers == procs->current_workers(pool)));
  // It does not wait for requests.
  BOOST_TEST(procs->readable_watches().empty());
  // The driver state Nomad keeps names the pool's processes, for a recovery.
  const auto saved = iis::decode_state(decode_driver_state(started->value->driver_state).site);
  BOOST_REQUIRE(saved.pools.size() == 1u);
  BOOST_TEST((saved.front == front));
  BOOST_TEST((saved.pools[0].master == pool));
  BOOST_TEST(as_int(saved.pools[0].status) == as_int(iis::pool_status::started));
}

BOOST_AUTO_TEST_CASE(stopping_a_pool_drains_it_and_kills_only_after_shutdown_time_limit) {
  auto pool_cfg = pool_block("default", config::start_mode::always_running);
  pool_cfg.shutdown_time_limit = std::chrono::seconds(30);
  auto task = start(static_plan(pool_cfg));
  const auto pool = procs->master("pool-0");
  const auto worker = procs->current_workers(pool).at(0);
  procs->hold_graceful = true;  // the workers take their time with the requests in flight
  const auto mark = procs->calls.size();
  auto stopped = ask_void(task, msg::pool_command{msg::pool_op::stop, {"default"}});
  BOOST_TEST(!stopped->answered());
  BOOST_TEST(procs->called(signalled(pool, "SIGQUIT")));
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::stopping));
  advance(30s - 1ms);
  BOOST_TEST(!has_kill(procs->calls_since(mark)));
  BOOST_TEST(!stopped->answered());
  BOOST_TEST(procs->is_alive(pool.pid));
  BOOST_TEST(procs->is_alive(worker.pid));
  advance(gone_interval);
  BOOST_TEST(procs->called(signalled(pool, "SIGKILL")));
  BOOST_TEST(procs->called(signalled(worker, "SIGKILL")));
  BOOST_TEST(stopped->done);
  BOOST_TEST(!procs->is_alive(pool.pid));
  BOOST_TEST(!procs->is_alive(worker.pid));
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::stopped));
  BOOST_TEST(view.workers.empty());
}

BOOST_AUTO_TEST_CASE(a_stop_that_drains_in_time_kills_nothing) {
  auto task = start(static_plan(pool_block("default", config::start_mode::always_running)));
  const auto pool = procs->master("pool-0");
  procs->hold_graceful = true;
  const auto mark = procs->calls.size();
  auto stopped = ask_void(task, msg::pool_command{msg::pool_op::stop, {"default"}});
  advance(10s);
  BOOST_TEST(!stopped->answered());
  procs->finish(pool.pid);
  advance(gone_interval);
  BOOST_TEST(stopped->done);
  BOOST_TEST(!has_kill(procs->calls_since(mark)));
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::stopped));
}

BOOST_AUTO_TEST_CASE(an_overlapped_recycle_keeps_the_pool_started_while_old_workers_drain) {
  auto task = start(static_plan(pool_block("default", config::start_mode::always_running)));
  const auto pool = procs->master("pool-0");
  const auto old_worker = procs->current_workers(pool).at(0);
  procs->workers_at_once = false;
  procs->retire_at_once = false;
  const auto mark = procs->calls.size();
  auto recycled = ask_void(task, msg::pool_command{msg::pool_op::recycle, {"default"}});
  BOOST_TEST(procs->calls_since(mark) == (std::vector<std::string>{signalled(pool, "SIGHUP")}));
  BOOST_TEST(!recycled->answered());
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::started));
  const auto fresh = procs->fork_workers(pool.pid);
  BOOST_REQUIRE(fresh.size() == 1u);
  advance(adopt_interval);
  BOOST_TEST(recycled->done);
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST((view.supervisor == pool));
  BOOST_TEST((view.workers == fresh));
  // The old worker drains on its own: nothing was killed, stopped or spawned.
  BOOST_TEST(procs->is_alive(old_worker.pid));
  BOOST_TEST(procs->at(old_worker.pid).shutting_down);
  BOOST_TEST(procs->calls_since(mark) == (std::vector<std::string>{signalled(pool, "SIGHUP")}));
  // Its end is no crash: no repair, no event.
  const auto seen = events->size();
  const auto after = procs->calls.size();
  procs->retire(old_worker.pid);
  advance(1s);
  BOOST_TEST(procs->calls.size() == after);
  BOOST_TEST(events->size() == seen);
  BOOST_TEST((pool_of(task, 0).workers == fresh));
}

BOOST_AUTO_TEST_CASE(a_recycle_without_overlap_stops_then_starts_the_pool) {
  auto pool_cfg = pool_block("default", config::start_mode::always_running);
  pool_cfg.disable_overlapped_recycle = true;
  auto task = start(static_plan(pool_cfg));
  const auto old = procs->master("pool-0");
  const auto mark = procs->calls.size();
  auto recycled = ask_void(task, msg::pool_command{msg::pool_op::recycle, {"default"}});
  BOOST_TEST(recycled->done);
  const auto calls = procs->calls_since(mark);
  const auto quit = std::find(calls.begin(), calls.end(), signalled(old, "SIGQUIT"));
  const auto spawn = std::find(calls.begin(), calls.end(), "spawn nginx pool-0");
  BOOST_TEST((quit != calls.end() && spawn != calls.end() && quit < spawn));
  BOOST_TEST(!procs->called(signalled(old, "SIGHUP")));
  const auto fresh = procs->master("pool-0");
  BOOST_TEST(fresh.pid != 0);
  BOOST_TEST(fresh.pid != old.pid);
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST((view.supervisor == fresh));
  BOOST_TEST((view.workers == procs->current_workers(fresh)));
}

BOOST_AUTO_TEST_CASE(an_on_demand_pool_starts_its_worker_with_the_first_request) {
  auto task = start(static_and_app_plan(config::start_mode::on_demand));
  // Only the front runs; both pools wait for requests on their sockets.
  BOOST_TEST(procs->count_calls("spawn") == 1u);
  BOOST_TEST(procs->called("spawn nginx front"));
  const auto watches = procs->readable_watches();
  BOOST_TEST((std::find(watches.begin(), watches.end(), "run/pool-0.bind") != watches.end()));
  BOOST_TEST((std::find(watches.begin(), watches.end(), "run/app-1.wait") != watches.end()));
  for (std::size_t p = 0; p < 2; ++p) {
    const auto view = pool_of(task, p);
    BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
    BOOST_TEST(view.workers.empty());
  }

  // A request for the static pool.
  BOOST_REQUIRE(procs->fire_readable("pool-0") == 1u);
  run();
  const auto master = procs->master("pool-0");
  BOOST_REQUIRE(master.pid != 0);
  BOOST_TEST((pool_of(task, 0).workers == procs->current_workers(master)));
  BOOST_TEST(pool_of(task, 0).workers.size() == 1u);
  BOOST_TEST(pool_of(task, 1).workers.empty());
  BOOST_TEST(events_with("application pool default started on demand") == 1u);

  // A request for the application parks at its wait socket.
  BOOST_REQUIRE(procs->fire_readable("app-1") == 1u);
  run();
  const auto apps = procs->live(fake_launcher::kind::app);
  BOOST_REQUIRE(apps.size() == 1u);
  BOOST_TEST((pool_of(task, 1).workers == apps));
  auto status = ask<msg::site_status>(task, msg::get_site_status{});
  BOOST_REQUIRE(status->value);
  BOOST_REQUIRE(status->value->pools.size() == 2u);
  BOOST_TEST(status->value->pools[1].name == "api");
  BOOST_TEST(status->value->pools[1].status == "Started");
  BOOST_TEST(status->value->pools[1].worker_running);
  BOOST_TEST(status->value->pools[1].worker_pids == std::vector<std::int32_t>{apps[0].pid});
}

BOOST_AUTO_TEST_CASE(an_idle_on_demand_pool_stops_its_worker_and_stays_started) {
  auto pool_cfg = pool_block("default", config::start_mode::on_demand);
  pool_cfg.idle_timeout = std::chrono::seconds(60);
  auto task = start(static_plan(pool_cfg));
  BOOST_REQUIRE(procs->fire_readable("pool-0") == 1u);
  run();
  const auto master = procs->master("pool-0");
  BOOST_REQUIRE(master.pid != 0);
  BOOST_TEST(pool_of(task, 0).workers.size() == 1u);
  advance(45s);
  BOOST_TEST(procs->is_alive(master.pid));
  BOOST_TEST(!procs->called(signalled(master, "SIGQUIT")));
  advance(30s);
  BOOST_TEST(procs->called(signalled(master, "SIGQUIT")));
  BOOST_TEST(!procs->is_alive(master.pid));
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST(view.workers.empty());
  BOOST_TEST(events_with("application pool default idle for 60s; worker stopped") == 1u);
  // It waits for the next request, which starts a new worker.
  BOOST_REQUIRE(procs->fire_readable("pool-0") == 1u);
  run();
  const auto again = procs->master("pool-0");
  BOOST_TEST(again.pid != 0);
  BOOST_TEST(pool_of(task, 0).workers.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_idle_always_running_pool_gets_a_fresh_worker) {
  auto pool_cfg = pool_block("default", config::start_mode::always_running);
  pool_cfg.idle_timeout = std::chrono::seconds(60);
  auto task = start(static_plan(pool_cfg));
  const auto old = procs->master("pool-0");
  advance(80s);
  BOOST_TEST(!procs->is_alive(old.pid));
  const auto fresh = procs->master("pool-0");
  BOOST_REQUIRE(fresh.pid != 0);
  BOOST_TEST(fresh.pid != old.pid);
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST((view.workers == procs->current_workers(fresh)));
  BOOST_TEST(events_with("starting a new one (AlwaysRunning)") == 1u);
}

BOOST_AUTO_TEST_CASE(crashes_are_repaired_until_rapid_fail_protection_stops_the_pool) {
  config::task_config cfg;
  cfg.application_pools = {pool_block("default", config::start_mode::always_running)};
  cfg.applications = {app_block("local", "default"),
                      app_block(app_folder("api"), "default", "api")};
  auto plan = this->plan(cfg);
  plan.pools[0].rapid_fail_max_crashes = 3;
  plan.pools[0].rapid_fail_interval = std::chrono::minutes(5);
  auto task = start(plan);
  const auto master = procs->master("pool-0");
  const auto worker = procs->current_workers(master).at(0);
  const auto app = procs->live(fake_launcher::kind::app).at(0);

  // 1. nginx replaces a crashed worker itself; the pool learns it.
  procs->crash(worker.pid, SIGSEGV);
  run();
  const auto worker2 = procs->current_workers(master).at(0);
  BOOST_TEST(events_with("worker " + std::to_string(worker.pid) +
                         " of pool default exited (signal 11); restarted as " +
                         std::to_string(worker2.pid)) == 1u);
  BOOST_TEST((by_pid(pool_of(task, 0).workers) == by_pid({app, worker2})));
  advance(10s);

  // 2. The pool's nginx master: a new one; the old one's orphaned worker goes.
  procs->crash(master.pid, SIGKILL);
  advance(gone_interval);
  const auto master2 = procs->master("pool-0");
  BOOST_REQUIRE(master2.pid != 0);
  BOOST_TEST(master2.pid != master.pid);
  BOOST_TEST(!procs->is_alive(worker2.pid));
  BOOST_TEST(procs->current_workers(master2).size() == 1u);
  BOOST_TEST(events_with("worker " + std::to_string(master.pid) +
                         " (nginx master) of pool default exited (signal 9); restarted as " +
                         std::to_string(master2.pid)) == 1u);
  BOOST_TEST(procs->is_alive(app.pid));  // the application kept running
  advance(10s);

  // 3. The application process: started again.
  procs->crash(app.pid, SIGSEGV);
  advance(gone_interval);
  const auto apps = procs->live(fake_launcher::kind::app);
  BOOST_REQUIRE(apps.size() == 1u);
  BOOST_TEST(apps[0].pid != app.pid);
  BOOST_TEST(events_with("worker " + std::to_string(app.pid) +
                         " of pool default exited (signal 11); restarted as " +
                         std::to_string(apps[0].pid)) == 1u);
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::started));
  BOOST_TEST(events_with("rapid-fail") == 0u);
  advance(10s);

  // 4. One crash more than the limit within the interval: the pool stops.
  procs->crash(procs->current_workers(master2).at(0).pid, SIGSEGV);
  advance(gone_interval);
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::stopped));
  BOOST_TEST(view.workers.empty());
  BOOST_TEST(events_with("application pool default stopped by rapid-fail protection: 4 worker "
                         "crashes within 300s (limit 3)") == 1u);
  BOOST_TEST(procs->live(fake_launcher::kind::pool).empty());
  BOOST_TEST(procs->live(fake_launcher::kind::app).empty());
  advance(timeouts::front_drain_minimum + 1s);  // the front's previous generation drains
  BOOST_TEST(procs->live(fake_launcher::kind::worker).size() == 1u);  // the front's
}

BOOST_AUTO_TEST_CASE(crashes_further_apart_than_the_interval_never_trip_rapid_fail) {
  auto plan = static_plan(pool_block("default", config::start_mode::always_running));
  plan.pools[0].rapid_fail_max_crashes = 1;
  plan.pools[0].rapid_fail_interval = std::chrono::minutes(1);
  auto task = start(plan);
  const auto master = procs->master("pool-0");
  for (int i = 0; i < 4; ++i) {
    procs->crash(procs->current_workers(master).at(0).pid, SIGSEGV);
    advance(61s);
  }
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::started));
  BOOST_TEST(events_with("rapid-fail") == 0u);
  BOOST_TEST(procs->current_workers(master).size() == 1u);
}

BOOST_AUTO_TEST_CASE(periodic_restart_recycles_the_pool) {
  auto pool_cfg = pool_block("default", config::start_mode::always_running);
  pool_cfg.periodic_restart = std::chrono::minutes(10);
  pool_cfg.idle_timeout = std::chrono::milliseconds(0);  // never idle
  auto task = start(static_plan(pool_cfg));
  const auto master = procs->master("pool-0");
  const auto first = procs->current_workers(master);
  advance(std::chrono::minutes(9));
  BOOST_TEST(!procs->called(signalled(master, "SIGHUP")));
  advance(std::chrono::minutes(1));
  BOOST_TEST(procs->count_calls(signalled(master, "SIGHUP")) == 1u);
  BOOST_TEST(events_with("application pool default recycled (periodic_restart 600s)") == 1u);
  const auto second = procs->current_workers(master);
  BOOST_TEST(second.size() == 1u);
  BOOST_TEST((second != first));
  BOOST_TEST((pool_of(task, 0).workers == second));
  advance(std::chrono::minutes(10));
  BOOST_TEST(procs->count_calls(signalled(master, "SIGHUP")) == 2u);
}

BOOST_AUTO_TEST_CASE(stop_task_sends_its_signal_to_the_application_processes) {
  auto task = start(app_plan(config::start_mode::always_running));
  const auto front = procs->master("front");
  const auto app = procs->live(fake_launcher::kind::app).at(0);
  auto stopped = ask_void(task, msg::stop_task{task_id, 5s, "SIGINT"});
  BOOST_TEST(stopped->done);
  const auto& calls = procs->calls;
  const auto quit = std::find(calls.begin(), calls.end(), signalled(front, "SIGQUIT"));
  const auto interrupted = std::find(calls.begin(), calls.end(), signalled(app, "SIGINT"));
  BOOST_TEST((quit != calls.end() && interrupted != calls.end() && quit < interrupted));
  BOOST_TEST(procs->live_site_processes() == 0u);
}

BOOST_AUTO_TEST_CASE(signals_start_stop_and_recycle_the_pools_as_nomad_iis_does) {
  auto task = start(static_plan(pool_block("default", config::start_mode::always_running)));
  const auto pool = procs->master("pool-0");
  auto stopped = ask_void(task, msg::signal_task{task_id, "STOP"});
  BOOST_TEST(stopped->done);
  BOOST_TEST(procs->called(signalled(pool, "SIGQUIT")));
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::stopped));
  BOOST_TEST(events_with("Application pool default stopped (signal STOP)") == 1u);
  auto started = ask_void(task, msg::signal_task{task_id, "start"});
  BOOST_TEST(started->done);
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::started));
  BOOST_TEST(events_with("Application pool default started (signal START)") == 1u);
  const auto restarted = procs->master("pool-0");
  for (const std::string sig : {"SIGHUP", "RECYCLE"}) {
    const auto mark = procs->calls.size();
    auto recycled = ask_void(task, msg::signal_task{task_id, sig});
    BOOST_TEST(procs->calls_since(mark) ==
               (std::vector<std::string>{signalled(restarted, "SIGHUP")}));
    BOOST_TEST(recycled->done);
    BOOST_TEST(events_with("Application pool default recycled (signal " + sig + ")") == 1u);
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_signal_is_ignored_with_an_event) {
  auto task = start(static_plan(pool_block("default", config::start_mode::always_running)));
  const auto mark = procs->calls.size();
  auto waited = ask<msg::exit_result>(task, msg::wait_task{task_id});
  // template { change_mode = "signal" change_signal = "SIGUSR1" }
  auto sig = ask_void(task, msg::signal_task{task_id, "SIGUSR1"});
  BOOST_TEST(sig->done);
  BOOST_TEST(procs->calls_since(mark).empty());
  BOOST_TEST(!waited->answered());
  BOOST_TEST(snapshot(task).running);
  BOOST_REQUIRE(events_with("Signal SIGUSR1 ignored") == 1u);
  const auto ev = std::find_if(events->begin(), events->end(), [](const auto& e) {
    return e.message.find("Signal SIGUSR1 ignored") != std::string::npos;
  });
  BOOST_TEST(ev->annotations.at("signal") == "SIGUSR1");
  BOOST_TEST(ev->task_id == task_id);
}

BOOST_AUTO_TEST_CASE(sigint_and_sigkill_stop_the_site_and_end_the_task) {
  for (const auto& [name, number] : {std::pair<std::string, int>{"SIGINT", SIGINT},
                                     std::pair<std::string, int>{"SIGKILL", SIGKILL}}) {
    BOOST_TEST_CONTEXT(name) {
      auto task = start(app_plan(config::start_mode::always_running));
      const auto front = procs->master("front");
      const auto app = procs->live(fake_launcher::kind::app).at(0);
      auto waited = ask<msg::exit_result>(task, msg::wait_task{task_id});
      auto sig = ask_void(task, msg::signal_task{task_id, name});
      BOOST_TEST(sig->done);
      BOOST_TEST(procs->called(signalled(front, "SIGQUIT")));
      // The application processes get the signal itself, as a StopTask's.
      BOOST_TEST(procs->called(signalled(app, name)));
      BOOST_TEST(procs->live_site_processes() == 0u);
      BOOST_REQUIRE(waited->value);
      BOOST_TEST(waited->value->exit_code == 0);
      BOOST_TEST(waited->value->signal == number);
      BOOST_TEST(waited->value->err.empty());
      BOOST_TEST(events_with("Site stopped (signal " + name + ")") == 1u);
      // A StopTask afterwards finds nothing left to stop.
      BOOST_TEST(ask_void(task, msg::stop_task{task_id, 5s, ""})->done);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_recovered_site_is_taken_over_without_starting_anything) {
  auto first = start(static_and_app_plan(config::start_mode::always_running));
  const auto front = procs->master("front");
  const auto pool = procs->master("pool-0");
  const auto app = procs->live(fake_launcher::kind::app).at(0);
  const auto running = procs->live_site_processes();
  lose_plugin(first);
  BOOST_TEST(procs->live_site_processes() == running);

  const auto mark = procs->calls.size();
  auto task = spawn_task();
  auto recovered = ask_void(task, msg::recover_task{this->task(), state});
  BOOST_TEST(recovered->done);
  BOOST_TEST(!has_call_starting(procs->calls_since(mark), "spawn"));
  BOOST_TEST(procs->live_site_processes() == running);
  const auto snap = snapshot(task);
  BOOST_TEST(snap.running);
  BOOST_TEST((snap.front == front));
  BOOST_REQUIRE(snap.pools.size() == 2u);
  BOOST_TEST(as_int(snap.pools[0].status) == as_int(iis::pool_status::started));
  BOOST_TEST((snap.pools[0].supervisor == pool));
  BOOST_TEST((snap.pools[0].workers == procs->current_workers(pool)));
  BOOST_TEST(as_int(snap.pools[1].status) == as_int(iis::pool_status::started));
  BOOST_TEST((snap.pools[1].workers == std::vector<iis::process_ref>{app}));

  // It watches them again: a crash is repaired by the new plugin.
  procs->crash(app.pid, SIGSEGV);
  advance(gone_interval);
  const auto apps = procs->live(fake_launcher::kind::app);
  BOOST_REQUIRE(apps.size() == 1u);
  BOOST_TEST(apps[0].pid != app.pid);
  BOOST_TEST((pool_of(task, 1).workers == apps));
}

BOOST_AUTO_TEST_CASE(a_recovery_restarts_an_application_process_that_died_meanwhile) {
  auto first = start(static_and_app_plan(config::start_mode::always_running));
  const auto app = procs->live(fake_launcher::kind::app).at(0);
  lose_plugin(first);
  procs->crash(app.pid, SIGKILL);  // nobody watches it now
  run();
  BOOST_TEST(procs->live(fake_launcher::kind::app).empty());

  const auto mark = procs->calls.size();
  auto task = spawn_task();
  auto recovered = ask_void(task, msg::recover_task{this->task(), state});
  BOOST_TEST(recovered->done);
  advance(gone_interval);
  const auto calls = procs->calls_since(mark);
  BOOST_TEST(std::count(calls.begin(), calls.end(), "spawn app /bin/sh") == 1);
  BOOST_TEST(!has_call_starting(calls, "spawn nginx"));
  const auto apps = procs->live(fake_launcher::kind::app);
  BOOST_REQUIRE(apps.size() == 1u);
  BOOST_TEST(apps[0].pid != app.pid);
  const auto view = pool_of(task, 1);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST((view.workers == apps));
}

BOOST_AUTO_TEST_CASE(a_pool_stopped_on_request_stays_stopped_across_a_plugin_restart) {
  auto first = start(static_plan(pool_block("default", config::start_mode::always_running)));
  auto stopped = ask_void(first, msg::pool_command{msg::pool_op::stop, {"default"}});
  BOOST_TEST(stopped->done);
  lose_plugin(first);
  const auto mark = procs->calls.size();
  auto task = spawn_task();
  auto recovered = ask_void(task, msg::recover_task{this->task(), state});
  BOOST_TEST(recovered->done);
  advance(1s);
  BOOST_TEST(!has_call_starting(procs->calls_since(mark), "spawn"));
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::stopped));
}

BOOST_AUTO_TEST_CASE(a_pool_master_that_dies_while_its_site_starts_fails_the_start) {
  config::task_config cfg;
  cfg.application_pools = {pool_block("default", config::start_mode::always_running)};
  cfg.applications = {app_block("local", "default"),
                      app_block(app_folder("api"), "default", "api")};
  const auto plan = this->plan(cfg);
  // The application (and the front's binding) do not accept yet; the pool's
  // nginx is up and has forked its worker.
  procs->tcp_closed = true;
  auto task = spawn_task();
  auto started = ask<msg::started_task>(task, msg::start_planned{this->task(), plan});
  BOOST_TEST(!started->answered());
  const auto master = procs->master("pool-0");
  BOOST_REQUIRE(master.pid != 0);
  BOOST_REQUIRE(procs->current_workers(master).size() == 1u);
  advance(1s);
  procs->crash(master.pid, SIGKILL);
  advance(1s);
  procs->tcp_closed = false;
  advance(5s);
  BOOST_REQUIRE(started->answered());
  BOOST_REQUIRE(started->error);
  BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::process_failed));
  BOOST_TEST(message_of(*started->error).find("exited during start") != std::string::npos);
  BOOST_TEST(procs->live_site_processes() == 0u);
}

BOOST_AUTO_TEST_CASE(an_idle_pool_waits_for_requests_again_after_a_plugin_restart) {
  auto first = start(static_plan(pool_block("default", config::start_mode::on_demand)));
  BOOST_TEST(procs->called("watch run/pool-0.bind"));
  lose_plugin(first);
  const auto mark = procs->calls.size();
  auto task = spawn_task();
  auto recovered = ask_void(task, msg::recover_task{this->task(), state});
  BOOST_TEST(recovered->done);
  BOOST_TEST(!has_call_starting(procs->calls_since(mark), "spawn"));
  BOOST_TEST(procs->called("watch run/pool-0.bind"));
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST(view.workers.empty());
  // The new plugin starts the worker when a request comes.
  BOOST_TEST(procs->fire_readable("pool-0") >= 1u);
  run();
  BOOST_REQUIRE(procs->master("pool-0").pid != 0);
  BOOST_TEST(pool_of(task, 0).workers.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_exiting_plugin_starts_idle_application_pools) {
  auto task = start(app_plan(config::start_mode::on_demand));
  BOOST_TEST(procs->live(fake_launcher::kind::app).empty());
  auto handed = ask_void(task, atom::hand_over_v);
  BOOST_TEST(handed->done);
  const auto apps = procs->live(fake_launcher::kind::app);
  BOOST_REQUIRE(apps.size() == 1u);
  BOOST_TEST((pool_of(task, 0).workers == apps));
  BOOST_TEST(events_with("application pool api started as the plugin exits") == 1u);
}

BOOST_AUTO_TEST_CASE(a_crashed_front_worker_is_replaced_and_reported) {
  auto task = start(static_plan(pool_block("default", config::start_mode::always_running)));
  const auto front = procs->master("front");
  const auto worker = procs->current_workers(front).at(0);
  procs->crash(worker.pid, SIGSEGV);
  run();
  const auto replacement = procs->current_workers(front).at(0);
  BOOST_TEST(events_with("front worker " + std::to_string(worker.pid) + " exited") == 1u);
  BOOST_TEST(events_with("restarted as " + std::to_string(replacement.pid)) == 1u);
  auto status = ask<msg::task_status>(task, msg::inspect_task{task_id});
  BOOST_REQUIRE(status->value);
  BOOST_TEST(static_cast<int>(status->value->state) == static_cast<int>(msg::task_state::running));
}

BOOST_AUTO_TEST_CASE(an_on_demand_pool_whose_worker_cannot_start_is_stopped_by_rapid_fail) {
  auto plan = static_plan(pool_block("default", config::start_mode::on_demand));
  plan.pools[0].rapid_fail_max_crashes = 2;
  auto task = start(plan);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    procs->spawn_failures["nginx pool-0"] = "exec /usr/sbin/nginx: Permission denied";
    BOOST_REQUIRE(procs->fire_readable("pool-0") == 1u);
    run();
    BOOST_TEST(events_with("could not start on demand: nginx (pool-0): exec /usr/sbin/nginx: "
                           "Permission denied") == static_cast<std::size_t>(attempt));
    const auto expected = attempt <= 2 ? iis::pool_status::started : iis::pool_status::stopped;
    BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(expected));
  }
  BOOST_TEST(events_with("stopped by rapid-fail protection: 3 worker crashes") == 1u);
  BOOST_TEST(procs->readable_watches().empty());  // a stopped pool waits for nothing
}

BOOST_AUTO_TEST_CASE(a_stop_is_not_held_up_beyond_its_timeout_by_a_periodic_recycle) {
  auto pool_cfg = pool_block("default", config::start_mode::always_running);
  pool_cfg.periodic_restart = std::chrono::minutes(10);
  pool_cfg.idle_timeout = std::chrono::milliseconds(0);
  auto task = start(static_plan(pool_cfg));
  const auto master = procs->master("pool-0");
  // The periodic recycle waits for nginx's new workers (up to start_time_limit, 90s).
  procs->workers_at_once = false;
  advance(std::chrono::minutes(10));
  BOOST_REQUIRE(procs->called(signalled(master, "SIGHUP")));
  auto stopped = ask_void(task, msg::stop_task{task_id, 5s, ""});
  advance(6s);
  BOOST_TEST(stopped->done);
  BOOST_TEST(procs->live_site_processes() == 0u);
}

BOOST_AUTO_TEST_CASE(an_overlapped_recycle_starts_the_new_application_before_the_old_one_goes) {
  auto task = start(app_plan(config::start_mode::always_running));
  const auto front = procs->master("front");
  const auto old = procs->live(fake_launcher::kind::app).at(0);
  procs->hold_graceful = true;  // the old process finishes its requests when the test says
  const auto mark = procs->calls.size();
  auto recycled = ask_void(task, msg::pool_command{msg::pool_op::recycle, {"api"}});
  BOOST_TEST(recycled->done);
  const auto apps = procs->live(fake_launcher::kind::app);
  BOOST_REQUIRE(apps.size() == 2u);
  const auto fresh = apps[1];
  // The front's new generation takes the new connections; the old one
  // drains, is told to quit and (held here) ends when the test says.
  advance(timeouts::front_drain_minimum + 1s);
  BOOST_TEST(procs->called(signalled(front, "SIGQUIT")));
  procs->finish(front.pid);
  advance(gone_interval);
  // The new process first, then the front switches to it, then the old
  // one is asked to go.
  const auto calls = procs->calls_since(mark);
  const auto spawned = std::find(calls.begin(), calls.end(), "spawn app /bin/sh");
  const auto reloaded = std::find(calls.begin(), calls.end(), "spawn nginx front");
  const auto termed = std::find(calls.begin(), calls.end(), signalled(old, "SIGTERM"));
  BOOST_TEST((spawned < reloaded && reloaded < termed && termed != calls.end()));
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST((view.workers == std::vector<iis::process_ref>{fresh}));
  // The old process drains, then exits: no crash, no repair.
  const auto after = procs->calls.size();
  procs->finish(old.pid);
  advance(gone_interval);
  BOOST_TEST(procs->calls.size() == after);
  BOOST_TEST((pool_of(task, 0).workers == std::vector<iis::process_ref>{fresh}));
  BOOST_TEST(events_with("exited") == 0u);
}

BOOST_AUTO_TEST_CASE(a_front_generation_that_dies_starting_fails_the_change_not_the_site) {
  auto task = start(app_plan(config::start_mode::always_running));
  const auto front = procs->master("front");
  const auto front_workers = procs->current_workers(front);
  const auto old_app = procs->live(fake_launcher::kind::app).at(0);
  procs->workers_at_once = false;  // the next generation forks no worker yet
  auto recycled = ask_void(task, msg::pool_command{msg::pool_op::recycle, {"api"}});
  const auto fronts = procs->live(fake_launcher::kind::front);
  BOOST_REQUIRE(fronts.size() == 2u);
  const auto next = fronts[0].pid == front.pid ? fronts[1] : fronts[0];
  procs->crash(next.pid, SIGSEGV);
  advance(gone_interval);
  BOOST_REQUIRE(recycled->error);
  BOOST_TEST(message_of(*recycled->error).find("did not start a new generation") !=
             std::string::npos);
  // The current generation never stopped serving, and the site runs on.
  BOOST_TEST(procs->is_alive(front.pid));
  for (const auto& worker : front_workers) BOOST_TEST(procs->is_alive(worker.pid));
  BOOST_TEST(snapshot(task).running);
  BOOST_TEST((snapshot(task).front == front));
  // The front still routes to the old process: it stays, the new one goes.
  advance(10s);
  BOOST_TEST(procs->is_alive(old_app.pid));
  BOOST_TEST(!procs->called(signalled(old_app, "SIGTERM")));
  BOOST_TEST((procs->live(fake_launcher::kind::app) == std::vector<iis::process_ref>{old_app}));
  BOOST_TEST((pool_of(task, 0).workers == std::vector<iis::process_ref>{old_app}));
}

BOOST_AUTO_TEST_CASE(stopping_an_application_pool_takes_it_off_the_front_first) {
  auto task = start(app_plan(config::start_mode::always_running));
  const auto front = procs->master("front");
  const auto app = procs->live(fake_launcher::kind::app).at(0);
  const auto mark = procs->calls.size();
  auto stopped = ask_void(task, msg::pool_command{msg::pool_op::stop, {"api"}});
  advance(1s);  // the front's previous generation drains and quits
  BOOST_TEST(stopped->done);
  // Its port is a plain TCP port someone else may take once the process is
  // gone: the front stops proxying to it before the process is asked to go.
  const auto calls = procs->calls_since(mark);
  const auto reloaded = std::find(calls.begin(), calls.end(), "spawn nginx front");
  const auto termed = std::find(calls.begin(), calls.end(), signalled(app, "SIGTERM"));
  BOOST_TEST((reloaded < termed && termed != calls.end()));
  BOOST_TEST(!procs->is_alive(app.pid));
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::stopped));
  // Started again: a new process, and the front routes to it.
  auto started = ask_void(task, msg::pool_command{msg::pool_op::start, {"api"}});
  advance(timeouts::front_drain_minimum + 1s);  // and both older generations drain
  BOOST_TEST(started->done);
  const auto apps = procs->live(fake_launcher::kind::app);
  BOOST_REQUIRE(apps.size() == 1u);
  BOOST_TEST((pool_of(task, 0).workers == apps));
  // Reloaded twice: a new generation each time, the previous one gone.
  const auto since = procs->calls_since(mark);
  BOOST_TEST(std::count(since.begin(), since.end(), "spawn nginx front") == 2);
  BOOST_TEST(procs->live(fake_launcher::kind::front).size() == 1u);
  BOOST_TEST(!procs->is_alive(front.pid));
}

BOOST_AUTO_TEST_CASE(a_recovery_replaces_a_pool_master_that_died_meanwhile_and_its_workers) {
  auto first = start(static_plan(pool_block("default", config::start_mode::always_running)));
  const auto master = procs->master("pool-0");
  const auto orphan = procs->current_workers(master).at(0);
  lose_plugin(first);
  // Killed while no plugin watches: its worker outlives it.
  procs->crash(master.pid, SIGKILL);
  BOOST_REQUIRE(procs->is_alive(orphan.pid));
  auto task = spawn_task();
  auto recovered = ask_void(task, msg::recover_task{this->task(), state});
  BOOST_TEST(recovered->done);
  advance(1s);
  const auto fresh = procs->master("pool-0");
  BOOST_REQUIRE(fresh.pid != 0);
  BOOST_TEST(fresh.pid != master.pid);
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST((view.workers == procs->current_workers(fresh)));
  // The old worker still accepts on the pool's socket, serving what the old
  // nginx was told: it must go as well.
  BOOST_TEST(!procs->is_alive(orphan.pid));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// single_hop_static on: the front serves the sole static pool's files.
struct single_hop_fixture : pool_fixture {
  single_hop_fixture() { driver.single_hop_static = true; }

  iis::site_plan always_running_plan() {
    return static_plan(pool_block("default", config::start_mode::always_running));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(single_hop_flows, single_hop_fixture)

BOOST_AUTO_TEST_CASE(an_always_running_pool_is_served_by_the_front_with_nothing_of_its_own) {
  const auto plan = always_running_plan();
  BOOST_REQUIRE(plan.pools[0].single_hop);
  auto task = start(plan);
  BOOST_TEST(!procs->called("spawn nginx pool-0"));
  BOOST_TEST(procs->count_calls("spawn keeper") == 0u);
  const auto front = procs->master("front");
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::started));
  BOOST_TEST((view.supervisor == front));
  BOOST_TEST((view.workers == procs->current_workers(front)));
  // The Management API's status names them as the pool's workers.
  auto status = ask<msg::site_status>(task, msg::get_site_status{});
  BOOST_REQUIRE(status->value);
  BOOST_REQUIRE(status->value->pools.size() == 1u);
  BOOST_TEST(status->value->pools[0].worker_running);
  BOOST_TEST(status->value->pools[0].worker_pids ==
             std::vector<std::int32_t>{procs->current_workers(front).at(0).pid});
  BOOST_TEST(std::filesystem::exists(iis::layout::front_serves_marker(plan.data_dir, 0)));
  const auto saved = iis::decode_state(decode_driver_state(state).site);
  BOOST_TEST(saved.pools[0].master.pid == 0);
  BOOST_TEST(saved.plan.pools[0].single_hop);
}

BOOST_AUTO_TEST_CASE(a_recycle_a_stop_and_a_start_are_generations_of_the_front) {
  auto task = start(always_running_plan());
  const auto first = procs->master("front");
  auto recycled = ask_void(task, msg::pool_command{msg::pool_op::recycle, {"default"}});
  advance(10s);
  BOOST_TEST(recycled->done);
  const auto second = procs->master("front");
  BOOST_TEST(second.pid != first.pid);
  BOOST_TEST(!procs->is_alive(first.pid));
  BOOST_TEST((pool_of(task, 0).supervisor == second));

  auto stopped = ask_void(task, msg::pool_command{msg::pool_op::stop, {"default"}});
  advance(10s);
  BOOST_TEST(stopped->done);
  const auto view = pool_of(task, 0);
  BOOST_TEST(as_int(view.status) == as_int(iis::pool_status::stopped));
  BOOST_TEST(view.workers.empty());
  const auto answering = procs->master("front");  // its 503s
  BOOST_TEST(answering.pid != second.pid);
  BOOST_TEST(snapshot(task).running);

  auto started = ask_void(task, msg::pool_command{msg::pool_op::start, {"default"}});
  advance(10s);
  BOOST_TEST(started->done);
  BOOST_TEST(procs->master("front").pid != answering.pid);
  BOOST_TEST((pool_of(task, 0).supervisor == procs->master("front")));
  BOOST_TEST(!procs->called("spawn nginx pool-0"));
}

BOOST_AUTO_TEST_CASE(a_stop_does_not_wait_for_the_serving_generation_to_drain) {
  auto task = start(always_running_plan());
  const auto serving = procs->master("front");
  procs->hold_graceful = true;  // its connections stay open
  const auto serving_workers = procs->current_workers(serving);
  auto stopped = ask_void(task, msg::pool_command{msg::pool_op::stop, {"default"}});
  advance(1s);
  BOOST_TEST(stopped->done);
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::stopped));
  // But it no longer keeps its clients' connections: none gets 200 after the stop.
  BOOST_TEST(procs->called(signalled(serving, "SIGQUIT")));
  BOOST_TEST(procs->retiring_workers(serving) == serving_workers);
  // Its clients get five seconds, then the pool's shutdown time limit.
  advance(5s + always_running_plan().pools[0].shutdown_time_limit + 10s);
  BOOST_TEST(!procs->is_alive(serving.pid));
}

BOOST_AUTO_TEST_CASE(a_recycle_lets_the_previous_generations_clients_stay) {
  auto task = start(always_running_plan());
  const auto serving = procs->master("front");
  auto recycled = ask_void(task, msg::pool_command{msg::pool_op::recycle, {"default"}});
  advance(100ms);
  BOOST_TEST(recycled->done);
  BOOST_TEST(procs->master("front").pid != serving.pid);
  // The answer is the same: its kept connections go on until they end or it drained.
  BOOST_TEST(!procs->called(signalled(serving, "SIGQUIT")));
  advance(timeouts::front_drain_minimum + 1s);
  BOOST_TEST(procs->called(signalled(serving, "SIGQUIT")));
}

BOOST_AUTO_TEST_CASE(front_worker_crashes_are_the_pools_and_trip_rapid_fail_protection) {
  auto plan = always_running_plan();
  plan.pools[0].rapid_fail_max_crashes = 1;
  auto task = start(plan);
  const auto front = procs->master("front");
  const auto worker = procs->current_workers(front).at(0);
  procs->crash(worker.pid, SIGSEGV);
  advance(1s);
  BOOST_TEST(events_with("worker " + std::to_string(worker.pid) + " of pool default exited") == 1u);
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::started));
  procs->crash(procs->current_workers(front).at(0).pid, SIGSEGV);
  advance(10s);
  BOOST_TEST(events_with("stopped by rapid-fail protection") == 1u);
  BOOST_TEST(as_int(pool_of(task, 0).status) == as_int(iis::pool_status::stopped));
  BOOST_TEST(snapshot(task).running);  // the front answers 503 for it
}

BOOST_AUTO_TEST_CASE(a_dead_front_master_is_replaced_on_the_same_sockets) {
  auto task = start(always_running_plan());
  const auto front = procs->master("front");
  const auto orphan = procs->current_workers(front).at(0);
  procs->crash(front.pid, SIGKILL);
  advance(10s);
  const auto fresh = procs->master("front");
  BOOST_REQUIRE(fresh.pid != 0);
  BOOST_TEST(fresh.pid != front.pid);
  BOOST_TEST(!procs->is_alive(orphan.pid));
  BOOST_TEST(snapshot(task).running);
  BOOST_TEST(events_with("(nginx master) of pool default exited (signal 9); restarted as " +
                         std::to_string(fresh.pid)) == 1u);
  BOOST_TEST((pool_of(task, 0).supervisor == fresh));
}

BOOST_AUTO_TEST_CASE(two_pools_or_the_option_off_keep_the_pools_nginx) {
  config::task_config cfg;
  cfg.application_pools = {pool_block("default", config::start_mode::always_running),
                           pool_block("b", config::start_mode::always_running)};
  cfg.applications = {app_block("local", "default"), app_block(app_folder("b"), "b", "b")};
  const auto two = plan(cfg);
  BOOST_TEST(two.pools.size() == 2u);
  BOOST_TEST(!two.pools[0].single_hop);
  driver.single_hop_static = false;
  BOOST_TEST(!always_running_plan().pools[0].single_hop);
}

BOOST_AUTO_TEST_SUITE_END()
