#define BOOST_TEST_MODULE actors
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <fstream>
#include <thread>

#include "actors/driver_state.hpp"
#include "actors/timeouts.hpp"
#include "common/unique_fd.hpp"
#include "iis/state_codec.hpp"
#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;
using namespace std::chrono_literals;

BOOST_FIXTURE_TEST_SUITE(task_lifecycle, fixture)

BOOST_AUTO_TEST_CASE(start_answers_only_once_the_site_runs) {
  // The front's nginx has not forked its workers yet (its sockets are the
  // plugin's, so its binding accepts from the start and proves nothing).
  procs->workers_at_once = false;
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_TEST(!started->answered());
  BOOST_TEST(procs->called("spawn nginx pool-0"));
  BOOST_TEST(procs->called("spawn nginx front"));
  procs->fork_workers(procs->master("pool-0").pid);
  advance(5s);
  BOOST_TEST(!started->answered());
  procs->fork_workers(procs->master("front").pid);
  advance(gone_interval);
  BOOST_REQUIRE(started->value);
  auto state = decode_driver_state(started->value->driver_state);
  BOOST_TEST(state.task.task_id == task_id);
  BOOST_TEST(state.started_at_ns > 0);
  // The site's part names what runs, for a recovery.
  const auto site = iis::decode_state(state.site);
  BOOST_TEST((site.front == procs->master("front")));
  BOOST_REQUIRE(site.pools.size() == 1u);
  BOOST_TEST((site.pools[0].master == procs->master("pool-0")));
  BOOST_TEST(static_cast<int>(site.pools[0].status) == static_cast<int>(iis::pool_status::started));
  // The driver config the supervisor got places the site.
  BOOST_TEST(site.plan.data_dir.rfind(data_dir.string() + "/sites/", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(driver_state_never_carries_the_task_env) {
  auto t = task();
  t.env["DB_PASSWORD"] = "hunter2";
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{t, always_running_config()});
  BOOST_REQUIRE(started->value);
  BOOST_TEST(started->value->driver_state.find("hunter2") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(wait_blocks_until_stop_then_reports_exit_zero) {
  start_running();
  const auto front = procs->master("front");
  const auto pool = procs->master("pool-0");
  auto waited = ask<msg::exit_result>(actors.supervisor, msg::wait_task{task_id});
  BOOST_TEST(!waited->answered());
  auto inspected = ask<msg::task_status>(actors.supervisor, msg::inspect_task{task_id});
  BOOST_REQUIRE(inspected->value);
  BOOST_TEST(static_cast<int>(inspected->value->state) ==
             static_cast<int>(msg::task_state::running));
  BOOST_TEST((inspected->value->completed_at == caf::timestamp{}));

  // Graceful stops end when the test says.
  procs->hold_graceful = true;
  auto stopped = ask_void(actors.supervisor, msg::stop_task{task_id, 3s, "SIGTERM"});
  BOOST_TEST(!stopped->answered());
  // The front goes first; the pool still serves what it forwards meanwhile.
  BOOST_TEST(procs->calls.back() == signalled(front, "SIGQUIT"));
  BOOST_TEST(!procs->called(signalled(pool, "SIGQUIT")));
  procs->finish(front.pid);
  advance(gone_interval);
  BOOST_TEST(!stopped->answered());
  BOOST_TEST(procs->calls.back() == signalled(pool, "SIGQUIT"));
  BOOST_TEST(!waited->answered());
  procs->finish(pool.pid);
  advance(gone_interval);
  BOOST_TEST(stopped->done);
  BOOST_TEST(procs->count_calls("signal") == 2u);  // nothing was killed
  BOOST_REQUIRE(waited->value);
  BOOST_TEST(waited->value->exit_code == 0);
  BOOST_TEST(waited->value->err.empty());

  // A second WaitTask after the exit gets the same result at once.
  auto again = ask<msg::exit_result>(actors.supervisor, msg::wait_task{task_id});
  BOOST_REQUIRE(again->value);
  BOOST_TEST(again->value->exit_code == 0);
  // StopTask on an exited task succeeds without touching a process.
  const auto calls = procs->calls.size();
  auto stop_again = ask_void(actors.supervisor, msg::stop_task{task_id, {}, ""});
  BOOST_TEST(stop_again->done);
  BOOST_TEST(procs->calls.size() == calls);
}

BOOST_AUTO_TEST_CASE(a_stop_that_does_not_drain_in_time_kills_at_its_timeout) {
  start_running();
  const auto front = procs->master("front");
  const auto pool = procs->master("pool-0");
  auto waited = ask<msg::exit_result>(actors.supervisor, msg::wait_task{task_id});
  procs->hold_graceful = true;  // nothing finishes its requests in time
  const auto mark = procs->calls.size();
  auto stopped = ask_void(actors.supervisor, msg::stop_task{task_id, 3s, ""});
  advance(3s - 1ms);
  BOOST_TEST(!stopped->answered());
  for (const auto& call : procs->calls_since(mark))
    BOOST_TEST(call.find("SIGKILL") == std::string::npos);
  advance(gone_interval);
  BOOST_TEST(stopped->done);
  BOOST_TEST(procs->called(signalled(front, "SIGKILL")));
  BOOST_TEST(procs->called(signalled(pool, "SIGKILL")));
  BOOST_TEST(procs->live_site_processes() == 0u);
  BOOST_REQUIRE(waited->value);
  BOOST_TEST(waited->value->exit_code == 0);
}

BOOST_AUTO_TEST_CASE(destroy_after_stop_forgets_the_task) {
  const auto state = start_running();
  const auto site_dir = iis::decode_state(decode_driver_state(state).site).plan.data_dir;
  BOOST_TEST(std::filesystem::is_directory(site_dir));
  auto stopped = ask_void(actors.supervisor, msg::stop_task{task_id, {}, ""});
  BOOST_TEST(stopped->done);
  BOOST_TEST(procs->live_site_processes() == 0u);
  auto destroyed = ask_void(actors.supervisor, msg::destroy_task{task_id, false});
  BOOST_TEST(destroyed->done);
  BOOST_TEST(!std::filesystem::exists(site_dir));
  BOOST_TEST(procs->live_site_processes() == 0u);
  auto inspected = ask<msg::task_status>(actors.supervisor, msg::inspect_task{task_id});
  BOOST_REQUIRE(inspected->error);
  BOOST_TEST(static_cast<int>(code_of(*inspected->error)) == static_cast<int>(ec::task_not_found));
  BOOST_TEST(message_of(*inspected->error) == "task not found for given id");
}

BOOST_AUTO_TEST_CASE(a_request_that_meets_the_destroyed_task_actor_is_answered_not_found) {
  const auto state = start_running(task_id);
  const auto site_dir = iis::decode_state(decode_driver_state(state).site).plan.data_dir;
  const auto task_actor_handle = task_actor();
  ask_void(actors.supervisor, msg::stop_task{task_id, {}, ""});
  auto destroyed = std::make_shared<void_outcome>();
  sys.spawn(
      [destroyed](caf::event_based_actor* self, const caf::actor& dest) {
        self->request(dest, caf::infinite, msg::destroy_task{task_id, false})
            .then([destroyed]() { destroyed->done = true; },
                  [destroyed](caf::error& e) { destroyed->error = std::move(e); });
      },
      actors.supervisor);
  // The destroy runs until a blocking worker removed the site; its answer
  // waits in the task actor's mailbox, unread.
  while (std::filesystem::exists(site_dir)) {
    BOOST_REQUIRE(sched.has_job());
    sched.run_once();
  }
  auto* task_job =
      dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(task_actor_handle));
  BOOST_REQUIRE(task_job != nullptr);
  sched.run_jobs_filtered([task_job](caf::resumable* job) { return job != task_job; });
  BOOST_TEST(!destroyed->answered());
  // An InspectTask reaches the supervisor first and is relayed to the task
  // actor, which quits before it reads it.
  auto inspected = std::make_shared<outcome<msg::task_status>>();
  // Spawned with an argument: CAF 0.17's argument-less spawn trips UBSan in
  // a frame the suppression cannot name from a test function's lambda.
  auto asker = sys.spawn(
      [inspected](caf::event_based_actor* self, const caf::actor& dest) {
        self->request(dest, caf::infinite, msg::inspect_task{task_id})
            .then([inspected](msg::task_status& s) { inspected->value = std::move(s); },
                  [inspected](caf::error& e) { inspected->error = std::move(e); });
      },
      actors.supervisor);
  BOOST_REQUIRE(sched.prioritize(asker));
  sched.run_once();
  BOOST_REQUIRE(sched.prioritize(actors.supervisor));
  sched.run_once();
  run();
  BOOST_TEST(destroyed->done);
  BOOST_REQUIRE(inspected->error);
  BOOST_TEST(static_cast<int>(code_of(*inspected->error)) == static_cast<int>(ec::task_not_found));
}

BOOST_AUTO_TEST_CASE(destroy_refuses_a_running_task_unless_forced) {
  const auto state = start_running();
  const auto site_dir = iis::decode_state(decode_driver_state(state).site).plan.data_dir;
  const auto front = procs->master("front");
  auto refused = ask_void(actors.supervisor, msg::destroy_task{task_id, false});
  BOOST_REQUIRE(refused->error);
  BOOST_TEST(static_cast<int>(code_of(*refused->error)) == static_cast<int>(ec::task_running));
  BOOST_TEST(procs->live_site_processes() == 4u);  // refused: everything still runs
  auto waited = ask<msg::exit_result>(actors.supervisor, msg::wait_task{task_id});
  const auto mark = procs->calls.size();
  auto forced = ask_void(actors.supervisor, msg::destroy_task{task_id, true});
  BOOST_TEST(forced->done);
  // It stops the site first, the front gracefully before the pools, then destroys it.
  const auto calls = procs->calls_since(mark);
  BOOST_REQUIRE(!calls.empty());
  BOOST_TEST(calls.front() == signalled(front, "SIGQUIT"));
  BOOST_TEST(procs->live_site_processes() == 0u);
  BOOST_TEST(!std::filesystem::exists(site_dir));
  BOOST_TEST(waited->value.has_value());
}

BOOST_AUTO_TEST_CASE(invalid_config_is_refused_and_nothing_is_created) {
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), std::string("\x81\xa3"
                                                                                    "bad",
                                                                                    5)});
  BOOST_REQUIRE(started->error);
  BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::invalid_config));
  BOOST_TEST(procs->calls.empty());
  BOOST_TEST(!std::filesystem::exists(data_dir / "sites"));
  auto inspected = ask<msg::task_status>(actors.supervisor, msg::inspect_task{task_id});
  BOOST_TEST(inspected->error.has_value());
}

BOOST_AUTO_TEST_CASE(unknown_port_label_names_the_binding) {
  auto t = task();
  t.ports.clear();
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{t, static_sample_config()});
  BOOST_REQUIRE(started->error);
  BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::invalid_config));
  BOOST_TEST(message_of(*started->error).find("httplabel") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_failed_start_is_retryable_and_forgets_the_task) {
  const auto site_dir = data_dir / "sites";
  {
    // Another program listens on the binding's port.
    const auto taken = occupy(http_port);
    auto started =
        ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
    BOOST_REQUIRE(started->error);
    BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::port_in_use));
    // Nomad restarts the task by its restart policy: the port may be free by then.
    BOOST_TEST((route_of(*started->error).recoverable == retry::yes));
    const auto message = message_of(*started->error);
    BOOST_TEST(message.find("address already in use") != std::string::npos);
    BOOST_TEST(message.find(std::to_string(http_port)) != std::string::npos);
    BOOST_TEST(procs->live_site_processes() == 0u);
    BOOST_TEST(std::filesystem::is_empty(site_dir));  // its folder is gone again
  }
  auto inspected = ask<msg::task_status>(actors.supervisor, msg::inspect_task{task_id});
  BOOST_TEST(inspected->error.has_value());
  // The same id may be started again (Nomad retries with a new id, but tolerate both).
  auto retry =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_TEST(retry->value.has_value());
}

BOOST_AUTO_TEST_CASE(a_front_that_dies_while_starting_fails_the_start_and_takes_the_pools) {
  procs->workers_at_once = false;
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_TEST(!started->answered());
  const auto pool = procs->master("pool-0");
  BOOST_REQUIRE(pool.pid != 0);
  procs->fork_workers(pool.pid);  // the pool runs; the front has no worker yet
  run();
  BOOST_TEST(!started->answered());
  procs->crash(procs->master("front").pid, SIGSEGV);
  advance(gone_interval);
  BOOST_REQUIRE(started->error);
  BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::process_failed));
  BOOST_TEST((route_of(*started->error).recoverable == retry::yes));
  BOOST_TEST(message_of(*started->error).find("exited during start") != std::string::npos);
  BOOST_TEST(!procs->is_alive(pool.pid));
  BOOST_TEST(procs->live_site_processes() == 0u);
  BOOST_TEST(std::filesystem::is_empty(data_dir / "sites"));
}

BOOST_AUTO_TEST_CASE(a_spawn_that_fails_fails_the_start_with_its_reason) {
  procs->spawn_failures["nginx front"] = "exec /usr/sbin/nginx: No such file or directory";
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_REQUIRE(started->error);
  BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::process_failed));
  BOOST_TEST(message_of(*started->error).find("nginx (front): exec /usr/sbin/nginx") !=
             std::string::npos);
  BOOST_TEST(procs->live_site_processes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_config_the_site_cannot_serve_fails_the_start_for_good) {
  std::ofstream(alloc_dir / "web" / "local" / "web.config") << "<configuration><system.webServer>";
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_REQUIRE(started->error);
  BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::invalid_config));
  // A restart would fail the same way: Nomad must not retry.
  BOOST_TEST((route_of(*started->error).recoverable == retry::no));
  const auto message = message_of(*started->error);
  BOOST_TEST(message.find("application /: web.config") == 0u, message);
  BOOST_TEST(procs->live_site_processes() == 0u);
  BOOST_TEST(std::filesystem::is_empty(data_dir / "sites"));
}

BOOST_AUTO_TEST_CASE(a_data_dir_that_cannot_be_made_fails_the_start_as_an_io_failure) {
  std::filesystem::create_directories(data_dir);
  std::ofstream(data_dir / "sites") << "a file where the sites' folder belongs";
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_REQUIRE(started->error);
  BOOST_TEST(static_cast<int>(code_of(*started->error)) == static_cast<int>(ec::io_failure));
  BOOST_TEST((route_of(*started->error).recoverable == retry::yes));
  BOOST_TEST(procs->live_site_processes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_site_that_dies_on_its_own_ends_wait_with_an_error) {
  start_running();
  const auto pool = procs->master("pool-0");
  auto waited = ask<msg::exit_result>(actors.supervisor, msg::wait_task{task_id});
  BOOST_TEST(!waited->answered());
  procs->crash(procs->master("front").pid, SIGKILL);
  run();
  BOOST_REQUIRE(waited->value);
  BOOST_TEST(waited->value->exit_code == 137);
  BOOST_TEST(waited->value->signal == 9);
  BOOST_TEST(waited->value->err.find("signal 9") != std::string::npos);
  // Without its front the site is down: its pools go too.
  BOOST_TEST(!procs->is_alive(pool.pid));
  auto inspected = ask<msg::task_status>(actors.supervisor, msg::inspect_task{task_id});
  BOOST_REQUIRE(inspected->value);
  BOOST_TEST(static_cast<int>(inspected->value->state) ==
             static_cast<int>(msg::task_state::exited));
  // Nomad destroys the exited task before it starts it again: the front's
  // workers, which outlive their master, go then.
  auto destroyed = ask_void(actors.supervisor, msg::destroy_task{task_id, false});
  BOOST_TEST(destroyed->done);
  BOOST_TEST(procs->live_site_processes() == 0u);
}

BOOST_AUTO_TEST_CASE(operations_on_one_task_run_one_at_a_time_in_order) {
  start_running();
  const auto front = procs->master("front");
  const auto pool = procs->master("pool-0");
  procs->workers_at_once = false;  // the recycle waits for nginx's new workers
  procs->hold_graceful = true;     // the stops wait for their processes
  const auto mark = procs->calls.size();
  auto recycled = ask_void(actors.supervisor, msg::signal_task{task_id, "SIGHUP"});
  auto stopped_pools = ask_void(actors.supervisor, msg::signal_task{task_id, "STOP"});
  auto stopped = ask_void(actors.supervisor, msg::stop_task{task_id, {}, ""});
  // Only the recycle reached the processes; the others wait their turn.
  BOOST_TEST(procs->calls_since(mark) == (std::vector<std::string>{signalled(pool, "SIGHUP")}));
  BOOST_TEST(!recycled->answered());
  procs->fork_workers(pool.pid);
  advance(adopt_interval);
  BOOST_TEST(recycled->done);
  BOOST_TEST(!stopped_pools->answered());
  BOOST_TEST(procs->calls.back() == signalled(pool, "SIGQUIT"));
  procs->finish(pool.pid);
  advance(gone_interval);
  BOOST_TEST(stopped_pools->done);
  BOOST_TEST(!stopped->answered());
  BOOST_TEST(procs->calls.back() == signalled(front, "SIGQUIT"));
  procs->finish(front.pid);
  advance(gone_interval);
  BOOST_TEST(stopped->done);
}

// Was unsupported_signal_is_a_clear_error: as on nomad-iis an unknown signal
// is ignored (an error would make Nomad kill the task); the event naming it
// is checked in pool_flows_test.
BOOST_AUTO_TEST_CASE(unknown_signal_is_ignored_and_the_task_runs_on) {
  start_running();
  const auto calls = procs->calls.size();
  auto sig = ask_void(actors.supervisor, msg::signal_task{task_id, "SIGWINCH"});
  BOOST_TEST(sig->done);
  BOOST_TEST(!sig->error);
  BOOST_TEST(procs->calls.size() == calls);
  auto inspected = ask<msg::task_status>(actors.supervisor, msg::inspect_task{task_id});
  BOOST_REQUIRE(inspected->value);
  BOOST_TEST(static_cast<int>(inspected->value->state) ==
             static_cast<int>(msg::task_state::running));
}

BOOST_AUTO_TEST_CASE(failed_pool_operation_reports_the_pool_error) {
  start_running();
  const auto pool = procs->master("pool-0");
  const auto workers = procs->current_workers(pool);
  // nginx forks no new workers (as with a config it refuses).
  procs->workers_at_once = false;
  auto recycled = ask_void(actors.supervisor, msg::signal_task{task_id, "recycle"});
  BOOST_TEST(!recycled->answered());
  advance(90s);  // the pool's start_time_limit
  BOOST_REQUIRE(recycled->error);
  BOOST_TEST(message_of(*recycled->error).find("nginx started no new workers") !=
             std::string::npos);
  BOOST_TEST(static_cast<int>(code_of(*recycled->error)) == static_cast<int>(ec::process_failed));
  // The old workers still serve.
  const auto snap = snapshot(task_actor());
  BOOST_REQUIRE(snap.pools.size() == 1u);
  BOOST_TEST(static_cast<int>(snap.pools[0].status) == static_cast<int>(iis::pool_status::started));
  BOOST_TEST((snap.pools[0].workers == workers));
}

BOOST_AUTO_TEST_CASE(recover_is_idempotent_and_fails_when_the_site_is_gone) {
  auto state = start_running();
  // A fresh plugin (new supervisor) recovers from the driver state alone.
  auto fresh = spawn_driver(sys, backend, false);
  for (const auto& a : {fresh.supervisor, fresh.hub, fresh.fingerprinter, fresh.workers}) own(a);
  caf::anon_send(fresh.supervisor, msg::set_driver_config{driver, true});
  run();
  auto t = task();
  const auto mark = procs->calls.size();
  auto first = ask_void(fresh.supervisor, msg::recover_task{t, state});
  BOOST_TEST(first->done);
  const auto calls = procs->calls.size();
  auto second = ask_void(fresh.supervisor, msg::recover_task{t, state});
  BOOST_TEST(second->done);
  BOOST_TEST(procs->calls.size() == calls);  // the tracked task was not touched
  // The site runs: nothing was started again.
  for (const auto& call : procs->calls_since(mark)) BOOST_TEST(call.rfind("spawn", 0) != 0u);
  auto inspected = ask<msg::task_status>(fresh.supervisor, msg::inspect_task{t.task_id});
  BOOST_REQUIRE(inspected->value);
  BOOST_TEST(inspected->value->attributes.at("recovered") == "true");

  auto other = spawn_driver(sys, backend, false);
  for (const auto& a : {other.supervisor, other.hub, other.fingerprinter, other.workers}) own(a);
  run();
  procs->crash(procs->master("front").pid, SIGKILL);
  run();
  auto failed = ask_void(other.supervisor, msg::recover_task{t, state});
  BOOST_REQUIRE(failed->error);
  BOOST_TEST(static_cast<int>(code_of(*failed->error)) == static_cast<int>(ec::recover_failed));
  BOOST_TEST(message_of(*failed->error).find("gone") != std::string::npos);
  auto garbage = ask_void(other.supervisor, msg::recover_task{t, "not json"});
  BOOST_REQUIRE(garbage->error);
}

BOOST_AUTO_TEST_CASE(unknown_task_ids_are_not_found) {
  for (auto out : {ask_void(actors.supervisor, msg::stop_task{"nope", {}, ""}),
                   ask_void(actors.supervisor, msg::destroy_task{"nope", true}),
                   ask_void(actors.supervisor, msg::signal_task{"nope", "SIGHUP"})}) {
    BOOST_REQUIRE(out->error);
    BOOST_TEST(static_cast<int>(code_of(*out->error)) == static_cast<int>(ec::task_not_found));
  }
}

BOOST_AUTO_TEST_CASE(stats_sum_every_process_in_nomad_units) {
  start_running();
  const auto front = procs->master("front");
  const auto pool = procs->master("pool-0");
  auto set_usage = [&](std::uint64_t ticks) {
    for (const auto& p : {front, procs->current_workers(front).at(0)})
      procs->usage_by_pid[p.pid] = {p.pid, ticks, ticks / 2, 4096};
    for (const auto& p : {pool, procs->current_workers(pool).at(0)})
      procs->usage_by_pid[p.pid] = {p.pid, ticks * 2, 0, 8192};
  };
  set_usage(100);
  auto first = ask<msg::task_stats>(actors.supervisor, msg::sample_stats{task_id});
  BOOST_REQUIRE(first->value);
  BOOST_TEST(first->value->total.rss_bytes == 2u * 4096u + 2u * 8192u);
  BOOST_TEST(first->value->by_pid.size() == 4u);  // the front's and the pool's master and worker
  BOOST_REQUIRE(first->value->by_pool.count("default") == 1u);
  BOOST_TEST(first->value->by_pool.at("default").rss_bytes == 2u * 8192u);
  BOOST_TEST(first->value->total.percent == 0.0);  // no interval yet
  set_usage(200);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto second = ask<msg::task_stats>(actors.supervisor, msg::sample_stats{task_id});
  BOOST_REQUIRE(second->value);
  BOOST_TEST(second->value->total.percent > 0.0);
  BOOST_TEST(second->value->total.user_percent > second->value->total.system_percent);
  BOOST_TEST(second->value->total.total_ticks > 0.0);
}

BOOST_AUTO_TEST_CASE(an_exiting_plugin_waits_until_every_site_handed_over) {
  // OnDemand pools wait idle for their first request; nothing else would
  // start them once the plugin is gone.
  start_running("alloc1/web/0000beef", sample_config());
  start_running("alloc2/web/0000cafe", sample_config());
  BOOST_TEST(procs->live(fake_launcher::kind::pool).empty());
  procs->workers_at_once = false;
  const auto mark = procs->calls.size();
  auto handed = ask_void(actors.supervisor, atom::hand_over_v);
  // Both sites are asked at once; the answer waits for the last one.
  std::size_t spawned = 0;
  for (const auto& call : procs->calls_since(mark)) spawned += call == "spawn nginx pool-0";
  BOOST_TEST(spawned == 2u);
  BOOST_TEST(!handed->answered());
  const auto masters = procs->live(fake_launcher::kind::pool);
  BOOST_REQUIRE(masters.size() == 2u);
  procs->fork_workers(masters[0].pid);
  advance(gone_interval);
  BOOST_TEST(!handed->answered());
  procs->fork_workers(masters[1].pid);
  advance(gone_interval);
  BOOST_TEST(handed->done);
}

BOOST_AUTO_TEST_CASE(a_site_that_does_not_hand_over_in_time_does_not_hold_up_the_exit) {
  start_running(task_id, sample_config());
  procs->workers_at_once = false;
  auto handed = ask_void(actors.supervisor, atom::hand_over_v);
  BOOST_TEST(!handed->answered());
  advance(timeouts::hand_over);
  BOOST_TEST(handed->done);
  // The late site finishes after all: nothing waits for it any more.
  procs->fork_workers(procs->master("pool-0").pid);
  advance(gone_interval);
  const auto snap = snapshot(task_actor());
  BOOST_REQUIRE(snap.pools.size() == 1u);
  BOOST_TEST(snap.pools[0].workers.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
