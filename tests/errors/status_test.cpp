#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>

#include "adapters/grpc/status.hpp"
#include "tests/actors/fixture.hpp"
#include "tests/grpc/recoverable.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;

BOOST_AUTO_TEST_SUITE(grpc_status)

BOOST_AUTO_TEST_CASE(every_error_gets_the_code_and_detail_of_its_row) {
  for (int i = 1; i <= static_cast<int>(ec::pool_not_found); ++i) {  // 0 would be no error
    const auto err = caf::make_error(static_cast<ec>(i), std::string("what failed"));
    const auto& route = route_of(err);
    const auto status = grpc_adapter::to_status(err);
    BOOST_TEST_CONTEXT(route.name) {
      BOOST_TEST(static_cast<int>(status.error_code()) == static_cast<int>(route.grpc));
      BOOST_TEST(status.error_message() == "what failed");
      const auto recoverable = recoverable_of(status);
      BOOST_TEST(recoverable.has_value() == (route.recoverable != retry::unsaid));
      if (recoverable) BOOST_TEST(*recoverable == (route.recoverable == retry::yes));
      // Nomad's client takes UNAVAILABLE for a dead plugin (PROTOCOL.md §9).
      BOOST_TEST(status.error_code() != grpc::StatusCode::UNAVAILABLE);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_timeout_keeps_its_own_text) {
  const auto status = grpc_adapter::to_status(caf::sec::request_timeout);
  BOOST_TEST(static_cast<int>(status.error_code()) ==
             static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
  BOOST_TEST(status.error_message() == "the driver did not answer in time");
  BOOST_TEST(!recoverable_of(status).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// A StartTask through the actors, its error as the gRPC status Nomad gets.
BOOST_FIXTURE_TEST_SUITE(start_task_status, fixture)

BOOST_AUTO_TEST_CASE(a_port_in_use_reaches_nomad_as_recoverable) {
  const auto taken = occupy(http_port);  // another program listens there
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_REQUIRE(started->error);
  const auto status = grpc_adapter::to_status(*started->error);
  BOOST_TEST(static_cast<int>(status.error_code()) ==
             static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  BOOST_TEST(status.error_message() ==
             "binding *:" + std::to_string(http_port) + ": address already in use");
  BOOST_TEST((recoverable_of(status) == std::optional<bool>(true)));
}

BOOST_AUTO_TEST_CASE(a_process_that_fails_its_start_reaches_nomad_as_recoverable) {
  // The front's nginx never forks its worker (its binding is the plugin's
  // socket, so only a worker proves it serves); the pool's does.
  procs->workers_at_once = false;
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  procs->fork_workers(procs->master("pool-0").pid);
  advance(std::chrono::seconds(90));  // the pool's start_time_limit
  BOOST_REQUIRE(started->error);
  const auto status = grpc_adapter::to_status(*started->error);
  BOOST_TEST(status.error_message() == "the front nginx did not accept connections within 90s");
  BOOST_TEST((recoverable_of(status) == std::optional<bool>(true)));
}

BOOST_AUTO_TEST_CASE(a_config_the_site_cannot_serve_reaches_nomad_as_unrecoverable) {
  std::ofstream(alloc_dir / "web" / "local" / "web.config") << "<configuration><system.webServer>";
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{task(), always_running_config()});
  BOOST_REQUIRE(started->error);
  const auto status = grpc_adapter::to_status(*started->error);
  BOOST_TEST(static_cast<int>(status.error_code()) ==
             static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  BOOST_TEST(status.error_message().find("application /: web.config") == 0u,
             status.error_message());
  BOOST_TEST((recoverable_of(status) == std::optional<bool>(false)));
}

BOOST_AUTO_TEST_CASE(a_config_the_planner_refuses_reaches_nomad_as_unrecoverable) {
  auto t = task();
  t.ports.clear();  // the job's binding names the port label "httplabel"
  auto started =
      ask<msg::started_task>(actors.supervisor, msg::start_task{t, static_sample_config()});
  BOOST_REQUIRE(started->error);
  const auto status = grpc_adapter::to_status(*started->error);
  BOOST_TEST(static_cast<int>(status.error_code()) ==
             static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  BOOST_TEST(status.error_message().find("httplabel") != std::string::npos);
  BOOST_TEST((recoverable_of(status) == std::optional<bool>(false)));
  BOOST_TEST(procs->calls.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_task_is_not_found_without_a_detail) {
  auto stopped = ask_void(actors.supervisor, msg::stop_task{"alloc9/web/00000000", {}, ""});
  BOOST_REQUIRE(stopped->error);
  const auto status = grpc_adapter::to_status(*stopped->error);
  BOOST_TEST(static_cast<int>(status.error_code()) ==
             static_cast<int>(grpc::StatusCode::NOT_FOUND));
  BOOST_TEST(status.error_message() == "task not found for given id");
  BOOST_TEST(!recoverable_of(status).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
