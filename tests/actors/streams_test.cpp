#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include "actors/fingerprinter.hpp"
#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;
using namespace std::chrono_literals;

namespace {

/// Collects every message of type T that reaches it.
template <class T>
caf::behavior collector(caf::event_based_actor*, std::shared_ptr<std::vector<T>> seen) {
  return {[seen](const T& x) { seen->push_back(x); }};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(streams, fixture)

BOOST_AUTO_TEST_CASE(fingerprint_comes_at_once_then_every_interval) {
  auto seen = std::make_shared<std::vector<msg::fingerprint>>();
  auto sub = sys.spawn(collector<msg::fingerprint>, seen);
  caf::anon_send(actors.fingerprinter, atom::subscribe_v, sub);
  run();
  // One probe of the configured web server, and its fingerprint.
  BOOST_TEST(backend->probes == std::vector<std::string>{driver.nginx_path});
  BOOST_REQUIRE(seen->size() == 1u);
  const auto& fp = seen->front();
  BOOST_TEST(static_cast<int>(fp.health) == static_cast<int>(msg::health::healthy));
  BOOST_TEST(fp.attributes.at("driver.iis.version").string_value == NOMAD_IIS_VERSION);
  BOOST_TEST(fp.attributes.at("driver.iis.nginx_version").string_value == "1.22.1");
  BOOST_TEST(fp.attributes.at("driver.iis.directory_security_enabled").bool_value ==
             driver.directory_security);
  BOOST_TEST(fp.attributes.count("driver.iis.management_api_enabled") == 0u);
  // The cgroups the backend uses, as Nomad's os.cgroups.version spells the version.
  BOOST_TEST(fp.attributes.at("driver.iis.resource_limits_enabled").bool_value == true);
  BOOST_TEST(fp.attributes.at("driver.iis.cgroups.version").string_value == "1");
  BOOST_TEST(fp.attributes.at("driver.iis.cgroups.mountpoint").string_value == "/sys/fs/cgroup");

  backend->probe_answer = {false, "", "/usr/sbin/nginx: No such file or directory", "", ""};
  advance(29s);
  BOOST_TEST(backend->probes.size() == 1u);
  BOOST_TEST(seen->size() == 1u);
  advance(1s);
  BOOST_TEST(backend->probes.size() == 2u);
  BOOST_REQUIRE(seen->size() == 2u);
  BOOST_TEST(static_cast<int>(seen->back().health) == static_cast<int>(msg::health::unhealthy));
  BOOST_TEST(seen->back().description.find("No such file") != std::string::npos);
  BOOST_TEST(seen->back().attributes.at("driver.iis.resource_limits_enabled").bool_value == false);
  BOOST_TEST(seen->back().attributes.count("driver.iis.cgroups.version") == 0u);
}

BOOST_AUTO_TEST_CASE(fingerprint_reflects_config_and_management_api) {
  auto seen = std::make_shared<std::vector<msg::fingerprint>>();
  auto sub = sys.spawn(collector<msg::fingerprint>, seen);
  caf::anon_send(actors.fingerprinter, atom::subscribe_v, sub);
  run();
  BOOST_REQUIRE(seen->size() == 1u);
  auto cfg = driver;
  cfg.enabled = false;
  cfg.directory_security = !driver.directory_security;
  cfg.nginx_path = "/opt/nginx/sbin/nginx";
  caf::anon_send(actors.supervisor, msg::set_driver_config{cfg, true});
  run();
  BOOST_REQUIRE(seen->size() == 2u);
  BOOST_TEST(static_cast<int>(seen->back().health) == static_cast<int>(msg::health::undetected));
  BOOST_TEST(seen->back().attributes.at("driver.iis.directory_security_enabled").bool_value ==
             cfg.directory_security);
  caf::anon_send(actors.fingerprinter, msg::api_status{true, 5004});
  run();
  BOOST_REQUIRE(seen->size() == 3u);
  BOOST_TEST(seen->back().attributes.at("driver.iis.management_api_enabled").bool_value == true);
  BOOST_TEST(seen->back().attributes.at("driver.iis.management_api_port").int_value == 5004);
  // The next probe runs the web server the config names.
  advance(30s);
  BOOST_TEST(backend->probes.back() == "/opt/nginx/sbin/nginx");
}

BOOST_AUTO_TEST_CASE(site_events_reach_every_subscriber_with_task_identity) {
  auto a = std::make_shared<std::vector<msg::task_event>>();
  auto b = std::make_shared<std::vector<msg::task_event>>();
  auto sub_a = sys.spawn(collector<msg::task_event>, a);
  auto sub_b = sys.spawn(collector<msg::task_event>, b);
  caf::anon_send(actors.hub, atom::subscribe_v, sub_a);
  caf::anon_send(actors.hub, atom::subscribe_v, sub_b);
  run();
  start_running();
  a->clear();  // what the start reported is not this test's business
  b->clear();
  // A pool worker crashes; nginx replaces it and the pool reports it.
  const auto pool = procs->master("pool-0");
  const auto worker = procs->current_workers(pool).at(0);
  procs->crash(worker.pid, SIGSEGV);
  run();
  const auto replacement = procs->current_workers(pool).at(0);
  BOOST_REQUIRE(a->size() == 1u);
  BOOST_TEST(b->size() == 1u);
  BOOST_TEST(a->front().message == "worker " + std::to_string(worker.pid) +
                                       " of pool default exited (signal 11); restarted as " +
                                       std::to_string(replacement.pid));
  BOOST_TEST(a->front().alloc_id == "alloc1");
  BOOST_TEST(a->front().task_name == "web");
  BOOST_TEST(a->front().task_id == "alloc1/web/0000beef");
  BOOST_TEST(a->front().annotations.at("pool") == "default");
  BOOST_TEST((a->front().timestamp != caf::timestamp{}));
  // A subscriber that goes away is dropped.
  caf::anon_send_exit(sub_b, caf::exit_reason::user_shutdown);
  run();
  procs->crash(replacement.pid, SIGSEGV);
  run();
  BOOST_TEST(a->size() == 2u);
  BOOST_TEST(b->size() == 1u);
}

BOOST_AUTO_TEST_CASE(pool_operations_are_reported_as_task_events) {
  auto seen = std::make_shared<std::vector<msg::task_event>>();
  auto sub = sys.spawn(collector<msg::task_event>, seen);
  caf::anon_send(actors.hub, atom::subscribe_v, sub);
  run();
  start_running();
  seen->clear();  // what the start reported is not this test's business
  auto recycled = ask_void(actors.supervisor, msg::signal_task{"alloc1/web/0000beef", "SIGHUP"});
  BOOST_TEST(recycled->done);
  BOOST_REQUIRE(seen->size() == 1u);
  BOOST_TEST(seen->back().message == "Application pool default recycled (signal SIGHUP)");
  BOOST_TEST(seen->back().annotations.at("operation") == "recycled");
  auto task = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"})->value->task;
  auto stopped = ask_void(task, msg::pool_command{msg::pool_op::stop, {"default"}});
  BOOST_TEST(stopped->done);
  BOOST_REQUIRE(seen->size() == 2u);
  BOOST_TEST(seen->back().message == "Application pool default stopped (Management API)");
}

BOOST_AUTO_TEST_SUITE_END()
