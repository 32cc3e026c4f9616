#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "iis/user_access.hpp"
#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;
using namespace std::chrono_literals;

namespace {

/// Whether the pool's user (www-data: the sample's NetworkService) may list `path`.
bool pool_user_may_list(const std::filesystem::path& path) {
  const auto account = iis::find_account("www-data");
  return account && iis::user_may(path.string(), *account, R_OK | X_OK);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(management, fixture)

BOOST_AUTO_TEST_CASE(tasks_are_found_by_alloc_and_name_once_running) {
  auto before = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"});
  BOOST_TEST(before->error.has_value());
  start_running();
  auto found = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"});
  BOOST_REQUIRE(found->value);
  BOOST_TEST(found->value->summary.task_id == "alloc1/web/0000beef");
  BOOST_TEST(found->value->summary.job_name == "static-sample-app");
  BOOST_TEST(found->value->summary.namespace_name == "default");
  auto other = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "api"});
  BOOST_REQUIRE(other->error);
  BOOST_TEST(static_cast<int>(code_of(*other->error)) == static_cast<int>(ec::task_not_found));
  auto list = ask<msg::task_list>(actors.supervisor, msg::list_tasks{});
  BOOST_REQUIRE(list->value);
  BOOST_TEST(list->value->tasks.size() == 1u);
}

BOOST_AUTO_TEST_CASE(site_status_reports_pools_and_workers) {
  start_running();
  const auto workers = procs->current_workers(procs->master("pool-0"));
  BOOST_REQUIRE(workers.size() == 1u);
  auto found = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"});
  BOOST_REQUIRE(found->value);
  auto status = ask<msg::site_status>(found->value->task, msg::get_site_status{});
  BOOST_REQUIRE(status->value);
  BOOST_TEST(status->value->task_dir == (alloc_dir / "web").string());
  BOOST_REQUIRE(status->value->pools.size() == 1u);
  BOOST_TEST(status->value->pools[0].name == "default");
  BOOST_TEST(status->value->pools[0].status == "Started");
  BOOST_TEST(status->value->pools[0].worker_running);
  BOOST_TEST(status->value->pools[0].worker_pids == std::vector<std::int32_t>{workers[0].pid});
}

BOOST_AUTO_TEST_CASE(site_status_by_alloc_and_name_is_answered_by_the_task) {
  auto before = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "web"});
  BOOST_REQUIRE(before->error);
  BOOST_TEST(static_cast<int>(code_of(*before->error)) == static_cast<int>(ec::task_not_found));
  start_running();
  const auto workers = procs->current_workers(procs->master("pool-0"));
  BOOST_REQUIRE(workers.size() == 1u);
  auto status = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "web"});
  BOOST_REQUIRE(status->value);
  BOOST_TEST(status->value->task.task_id == "alloc1/web/0000beef");
  BOOST_TEST(status->value->task.job_name == "static-sample-app");
  BOOST_REQUIRE(status->value->pools.size() == 1u);
  BOOST_TEST(status->value->pools[0].worker_pids == std::vector<std::int32_t>{workers[0].pid});
  auto other = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "api"});
  BOOST_REQUIRE(other->error);
  BOOST_TEST(static_cast<int>(code_of(*other->error)) == static_cast<int>(ec::task_not_found));
}

BOOST_AUTO_TEST_CASE(pool_commands_check_pool_names) {
  start_running();
  auto task = task_actor();
  const auto calls = procs->calls.size();
  auto bad = ask_void(task, msg::pool_command{msg::pool_op::stop, {"nope"}});
  BOOST_REQUIRE(bad->error);
  BOOST_TEST(static_cast<int>(code_of(*bad->error)) == static_cast<int>(ec::invalid_argument));
  BOOST_TEST(message_of(*bad->error).find("\"nope\"") != std::string::npos);
  BOOST_TEST(procs->calls.size() == calls);
}

BOOST_AUTO_TEST_CASE(a_change_lease_stops_serving_pools_holds_the_task_and_restores_them) {
  const bool root = ::geteuid() == 0;
  auto secured = driver;
  secured.directory_security = true;  // as root: the pool's user gets ACL entries
  configure(secured);
  start_running();
  auto task = task_actor();
  const auto pool = procs->master("pool-0");
  const auto local = alloc_dir / "web" / "local";
  procs->hold_graceful = true;
  auto ticket = ask<msg::change_ticket>(task, msg::begin_change{local.string(), true});
  BOOST_TEST(!ticket->answered());
  BOOST_TEST(procs->calls.back() == signalled(pool, "SIGQUIT"));
  procs->finish(pool.pid);
  advance(gone_interval);
  BOOST_REQUIRE(ticket->value);
  BOOST_TEST(ticket->value->stopped_pools == std::vector<std::string>{"default"});
  BOOST_TEST(procs->live(fake_launcher::kind::pool).empty());

  // While the change holds the task, other operations wait.
  const auto held = procs->calls.size();
  auto recycle = ask_void(task, msg::pool_command{msg::pool_op::recycle, {}});
  BOOST_TEST(procs->calls.size() == held);
  BOOST_TEST(!recycle->answered());

  // The change makes a folder the pool's user cannot read yet (root's, 0700).
  const auto fresh = local / "fresh";
  std::filesystem::create_directory(fresh);
  ::chmod(fresh.c_str(), 0700);
  if (root) BOOST_TEST(!pool_user_may_list(fresh));
  std::optional<bool> readable_at_start;
  procs->on_spawn = [&](const fake_launcher::process& p) {
    if (p.label == "nginx pool-0") readable_at_start = pool_user_may_list(fresh);
  };
  auto ended = ask_void(task, msg::end_change{ticket->value->id});
  procs->on_spawn = nullptr;
  BOOST_TEST(ended->done);
  // The pools' users get their rights on the new files before the pools start.
  BOOST_REQUIRE(readable_at_start.has_value());
  if (root)
    BOOST_TEST(*readable_at_start);
  else
    BOOST_TEST_MESSAGE("not root: directory security does not apply, its order is not checked");
  // Then the recycle that waited runs, on the pool's new nginx.
  BOOST_TEST(recycle->done);
  const auto restarted = procs->master("pool-0");
  BOOST_REQUIRE(restarted.pid != 0);
  const auto calls = procs->calls_since(held);
  const auto spawned = std::find(calls.begin(), calls.end(), "spawn nginx pool-0");
  BOOST_TEST((spawned != calls.end() &&
              std::find(spawned, calls.end(), signalled(restarted, "SIGHUP")) != calls.end()));
}

BOOST_AUTO_TEST_CASE(a_change_without_stopping_pools_is_granted_at_once) {
  const bool root = ::geteuid() == 0;
  auto secured = driver;
  secured.directory_security = true;
  configure(secured);
  start_running();
  auto task = task_actor();
  const auto calls = procs->calls.size();
  auto ticket =
      ask<msg::change_ticket>(task, msg::begin_change{(alloc_dir / "web").string(), false});
  BOOST_REQUIRE(ticket->value);
  BOOST_TEST(ticket->value->stopped_pools.empty());
  const auto fresh = alloc_dir / "web" / "local" / "fresh";
  std::filesystem::create_directory(fresh);
  ::chmod(fresh.c_str(), 0700);
  auto wrong = ask_void(task, msg::end_change{ticket->value->id + 1});
  BOOST_TEST(wrong->error.has_value());
  auto ended = ask_void(task, msg::end_change{ticket->value->id});
  BOOST_TEST(ended->done);
  BOOST_TEST(procs->calls.size() == calls);  // no process was touched
  // Its end applied directory security to what the change made.
  if (root) BOOST_TEST(pool_user_may_list(fresh));
}

BOOST_AUTO_TEST_CASE(an_abandoned_lease_expires_and_restores_pools) {
  start_running();
  auto task = task_actor();
  const auto pool = procs->master("pool-0");
  auto ticket =
      ask<msg::change_ticket>(task, msg::begin_change{(alloc_dir / "web").string(), true});
  BOOST_REQUIRE(ticket->value);
  BOOST_TEST(!procs->is_alive(pool.pid));
  advance(std::chrono::minutes(4));
  BOOST_TEST(procs->master("pool-0").pid == 0);  // still held
  advance(std::chrono::minutes(2));
  const auto restarted = procs->master("pool-0");
  BOOST_TEST(restarted.pid != 0);
  BOOST_TEST(procs->current_workers(restarted).size() == 1u);
  const auto snap = snapshot(task);
  BOOST_REQUIRE(snap.pools.size() == 1u);
  BOOST_TEST(static_cast<int>(snap.pools[0].status) == static_cast<int>(iis::pool_status::started));
  auto late = ask_void(task, msg::end_change{ticket->value->id});
  BOOST_TEST(late->error.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
