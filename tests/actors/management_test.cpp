#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;

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
  auto found = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"});
  BOOST_REQUIRE(found->value);
  auto status = ask<msg::site_status>(found->value->task, msg::get_site_status{});
  BOOST_REQUIRE(status->value);
  BOOST_TEST(status->value->task_dir == (alloc_dir / "web").string());
  BOOST_REQUIRE(status->value->pools.size() == 1u);
  BOOST_TEST(status->value->pools[0].name == "default");
  BOOST_TEST(status->value->pools[0].status == "Started");
  BOOST_TEST(status->value->pools[0].worker_running);
  BOOST_TEST(status->value->pools[0].worker_pids == std::vector<std::int32_t>{101});
}

BOOST_AUTO_TEST_CASE(site_status_by_alloc_and_name_is_answered_by_the_task) {
  auto before = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "web"});
  BOOST_REQUIRE(before->error);
  BOOST_TEST(static_cast<int>(code_of(*before->error)) == static_cast<int>(ec::task_not_found));
  start_running();
  auto status = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "web"});
  BOOST_REQUIRE(status->value);
  BOOST_TEST(status->value->task.task_id == "alloc1/web/0000beef");
  BOOST_TEST(status->value->task.job_name == "static-sample-app");
  BOOST_REQUIRE(status->value->pools.size() == 1u);
  BOOST_TEST(status->value->pools[0].worker_pids == std::vector<std::int32_t>{101});
  auto other = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "api"});
  BOOST_REQUIRE(other->error);
  BOOST_TEST(static_cast<int>(code_of(*other->error)) == static_cast<int>(ec::task_not_found));
}

BOOST_AUTO_TEST_CASE(pool_commands_check_pool_names) {
  start_running();
  auto task = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"})->value->task;
  auto bad = ask_void(task, msg::pool_command{msg::pool_op::stop, {"nope"}});
  BOOST_REQUIRE(bad->error);
  BOOST_TEST(static_cast<int>(code_of(*bad->error)) == static_cast<int>(ec::invalid_argument));
  BOOST_TEST(message_of(*bad->error).find("\"nope\"") != std::string::npos);
  BOOST_TEST(world->pending.empty());
}

BOOST_AUTO_TEST_CASE(a_change_lease_stops_serving_pools_holds_the_task_and_restores_them) {
  start_running();
  auto task = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"})->value->task;
  auto path = (alloc_dir / "web" / "local").string();
  auto ticket = ask<msg::change_ticket>(task, msg::begin_change{path, true});
  BOOST_TEST(!ticket->answered());
  BOOST_TEST(world->complete_next() == "stop_pools");
  run();
  BOOST_REQUIRE(ticket->value);
  BOOST_TEST(ticket->value->stopped_pools == std::vector<std::string>{"default"});

  // While the change holds the task, other operations wait.
  auto recycle = ask_void(task, msg::pool_command{msg::pool_op::recycle, {}});
  BOOST_TEST(world->pending.empty());
  BOOST_TEST(!recycle->answered());

  auto ended = ask_void(task, msg::end_change{ticket->value->id});
  // The pools' users get their rights on the new files before the pools start.
  const auto& calls = world->calls;
  const auto refresh = std::find(calls.begin(), calls.end(), "refresh_access");
  BOOST_TEST(
      (refresh != calls.end() && std::find(refresh, calls.end(), "start_pools") != calls.end()));
  BOOST_TEST(world->complete_next() == "start_pools");
  run();
  BOOST_TEST(ended->done);
  BOOST_TEST(world->complete_next() == "recycle");
  run();
  BOOST_TEST(recycle->done);
}

BOOST_AUTO_TEST_CASE(a_change_without_stopping_pools_is_granted_at_once) {
  start_running();
  auto task = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"})->value->task;
  auto ticket =
      ask<msg::change_ticket>(task, msg::begin_change{(alloc_dir / "web").string(), false});
  BOOST_REQUIRE(ticket->value);
  BOOST_TEST(ticket->value->stopped_pools.empty());
  auto wrong = ask_void(task, msg::end_change{ticket->value->id + 1});
  BOOST_TEST(wrong->error.has_value());
  auto ended = ask_void(task, msg::end_change{ticket->value->id});
  BOOST_TEST(ended->done);
  BOOST_TEST(world->pending.empty());
  BOOST_TEST(world->calls.back() == "refresh_access");
}

BOOST_AUTO_TEST_CASE(an_abandoned_lease_expires_and_restores_pools) {
  start_running();
  auto task = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"})->value->task;
  auto ticket =
      ask<msg::change_ticket>(task, msg::begin_change{(alloc_dir / "web").string(), true});
  world->complete_next();
  run();
  BOOST_REQUIRE(ticket->value);
  sched.clock().advance_time(std::chrono::minutes(6));
  run();
  BOOST_TEST(world->complete_next() == "start_pools");
  run();
  auto late = ask_void(task, msg::end_change{ticket->value->id});
  BOOST_TEST(late->error.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
