#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <thread>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "iis/front_generations.hpp"
#include "iis/process.hpp"
#include "iis/site_layout.hpp"
#include "iis/site_setup.hpp"
#include "iis/state_codec.hpp"
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

/// The site's part of a task handle (the driver state Nomad keeps).
saved_site site_of(const std::string& handle) {
  rapidjson::Document doc;
  doc.Parse(handle.c_str());
  BOOST_REQUIRE(!doc.HasParseError() && doc.HasMember("site"));
  return decode_state(doc["site"].GetString());
}

/// `handle` with its site's part replaced by `site`.
std::string with_site(const std::string& handle, const saved_site& site) {
  rapidjson::Document doc;
  doc.Parse(handle.c_str());
  const auto encoded = encode_state(site);
  doc["site"].SetString(encoded.c_str(), static_cast<rapidjson::SizeType>(encoded.size()),
                        doc.GetAllocator());
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return out.GetString();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_FIXTURE_TEST_SUITE(recovery, site_fixture)

BOOST_AUTO_TEST_CASE(recovered_site_keeps_serving_with_the_same_processes) {
  add_site_and_py_app();
  start();
  const auto before = web->snapshot();
  const std::string state = web->save_state();

  // The plugin goes away: the site object and the backend are destroyed
  // without stopping anything.
  lose_plugin();
  for (int pid : all_pids(before)) BOOST_TEST(pid_alive(pid), "pid " << pid << " died");
  BOOST_TEST(get("/file.txt").status == 200);

  recover_plugin(state);
  const auto after = web->snapshot();
  BOOST_TEST(after.running);
  BOOST_TEST((after.front == before.front));
  BOOST_TEST(sorted(all_pids(after)) == sorted(all_pids(before)), boost::test_tools::per_element());
  BOOST_TEST(std::string(to_string(after.pools[0].status)) == "Started");
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(get("/py/").status == 200);

  // The recovered site still watches its workers although they are not its children.
  const auto worker = pool(after, "default").workers.at(0);
  ::kill(worker.pid, SIGKILL);
  BOOST_TEST(
      observer->wait_for({"worker " + std::to_string(worker.pid), "restarted as"}).has_value());
  remember();

  // An application process restarted after recovery gets the task's environment
  // back from the data dir (it is not in the driver state).
  BOOST_TEST(state.find("NOMAD_TASK_NAME") == std::string::npos);
  const int app = pool(web->snapshot(), "py").workers.at(0).pid;
  ::kill(app, SIGKILL);
  BOOST_TEST(observer->wait_for({"worker " + std::to_string(app), "restarted as"}).has_value());
  remember();
  const auto body = get("/py/").body;
  BOOST_TEST(body.find("hello from httpPlatform") != std::string::npos, body);
  BOOST_TEST(body.find("tmp=" + alloc.task_dir() + "/tmp") != std::string::npos, body);

  const auto pids = all_pids(web->snapshot());
  BOOST_TEST(!run([&](completion done) { web->stop(std::chrono::seconds(5), "", done); }));
  for (int pid : pids) BOOST_TEST(!pid_alive(pid), "pid " << pid);
}

BOOST_AUTO_TEST_CASE(a_front_on_a_later_generation_is_recovered_and_moves_on_without_a_failure) {
  add_site_and_py_app();
  start();
  // Nomad keeps StartTask's handle: it names the first generation's master.
  const std::string state = web->save_state();
  const auto first = web->snapshot().front;
  BOOST_TEST(!run([&](completion done) { web->recycle_pools({"py"}, done); }));
  remember();
  const auto second = web->snapshot().front;
  BOOST_TEST(second.pid != first.pid);
  BOOST_TEST(eventually([&] { return !pid_alive(first.pid); }));

  lose_plugin();
  BOOST_TEST(get("/py/").status == 200);
  recover_plugin(state);
  const auto after = web->snapshot();
  BOOST_TEST(after.running);
  BOOST_TEST((after.front == second));

  // Its sockets came back from its master: the next generation joins them
  // and takes over under load without a failed request.
  kept_alive_load load(port, "/file.txt", 4);
  BOOST_REQUIRE(eventually([&] { return load.served() > 50; }));
  BOOST_TEST(!run([&](completion done) { web->recycle_pools({"py"}, done); }));
  remember();
  const int served = load.served();
  BOOST_TEST(eventually([&] { return load.served() > served + 50; }));
  const auto third = web->snapshot().front;
  BOOST_TEST(third.pid != second.pid);
  BOOST_TEST(eventually([&] { return !pid_alive(second.pid); }));
  load.stop();
  BOOST_TEST(load.failed() == 0, "failed: " << load.failed() << ", last: " << load.last_failure());
  BOOST_TEST(get("/py/").status == 200);
}

BOOST_AUTO_TEST_CASE(a_front_of_an_earlier_release_is_recovered_and_reloads_in_place) {
  driver.single_hop_static = false;  // earlier releases always proxied to the pool's nginx
  config.application_pools.push_back(running_pool("default"));
  config.applications.push_back(make_app("local/site"));
  start();
  const std::string state = web->save_state();
  lose_plugin();
  // The front as releases before generations ran it: it bound its own
  // sockets and named itself in run/front.pid.
  kill_tree(site_of(state).front.pid);
  BOOST_REQUIRE(eventually([&] { return get("/file.txt").status == 0; }));
  pool_routes routes;
  routes.apps.push_back(app_runtime{});
  write_front_conf(plan, {routes}, 0);
  const auto legacy = spawn_process(nginx_request(plan, layout::front_instance, -1));
  seen.insert(legacy.pid);
  BOOST_REQUIRE(eventually([&] { return get("/file.txt").status == 200; }));
  auto saved = site_of(state);
  saved.front = legacy;

  recover_plugin(with_site(state, saved));
  BOOST_TEST((web->snapshot().front == legacy));
  // A change of routes reloads it in place (its sockets are not in a group).
  BOOST_TEST(!run([&](completion done) { web->stop_pools({"default"}, done); }));
  BOOST_TEST(get("/file.txt").status == 503);
  BOOST_TEST(!run([&](completion done) { web->start_pools({"default"}, done); }));
  remember();
  BOOST_TEST(get("/file.txt").body == "static file content");
  BOOST_TEST((web->snapshot().front == legacy));
  const auto fronts = running_front_generations(plan);
  BOOST_REQUIRE(fronts.size() == 1u);
  BOOST_TEST(fronts[0].number == 0u);
  BOOST_TEST((fronts[0].master == legacy));
}

BOOST_AUTO_TEST_CASE(a_pool_stopped_on_request_stays_stopped_after_a_plugin_restart) {
  alloc.write("local/b/x.txt", "pool b");
  config.application_pools.push_back(running_pool("default"));
  config.application_pools.push_back(running_pool("second"));
  config.applications.push_back(make_app("local/site"));
  config.applications.push_back(make_app("local/b", "b", "second"));
  start();
  // Nomad keeps what StartTask returned: both pools Started.
  const std::string state = web->save_state();
  BOOST_REQUIRE(!run([&](completion done) { web->stop_pools({"second"}, done); }));
  BOOST_TEST(get("/b/x.txt").status == 503);

  restart_plugin(state);
  BOOST_TEST(std::string(to_string(pool(web->snapshot(), "second").status)) == "Stopped");
  BOOST_TEST(pool(web->snapshot(), "second").workers.empty());
  BOOST_TEST(get("/b/x.txt").status == 503);
  BOOST_TEST(get("/file.txt").status == 200);

  // Started again on request, it stays started across the next restart.
  BOOST_REQUIRE(!run([&](completion done) { web->start_pools({"second"}, done); }));
  BOOST_TEST(get("/b/x.txt").body == "pool b");
  restart_plugin(state);
  BOOST_TEST(std::string(to_string(pool(web->snapshot(), "second").status)) == "Started");
  BOOST_TEST(get("/b/x.txt").body == "pool b");
  remember();
}

BOOST_AUTO_TEST_CASE(recovering_a_dead_site_throws) {
  config.applications.push_back(make_app("local/site"));
  start();
  const std::string state = web->save_state();
  BOOST_TEST(!run([&](completion done) { web->stop(std::chrono::seconds(5), "", done); }));
  try {
    engine->recover_site(state, observer);
    BOOST_FAIL("recover_site should throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("front nginx") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find("gone") != std::string::npos, e.what());
  }
  BOOST_CHECK_THROW(engine->recover_site("{}", observer), std::runtime_error);
  if (::geteuid() == 0) {
    // Nomad destroys no task it could not recover: its pool's own user goes.
    const auto user = pool_user_name(task.alloc_id, task.task_name, "default");
    BOOST_TEST(eventually([&] { return !find_account(user).has_value(); }), user << " stays");
  }
}

BOOST_AUTO_TEST_CASE(list_dangling_finds_untracked_sites) {
  config.applications.push_back(make_app("local/site"));
  start();
  const auto items = engine->list_dangling({});
  BOOST_REQUIRE(items.size() == 1u);
  BOOST_TEST(items[0].site_name == plan.site_name);
  BOOST_TEST(items[0].data_dir == plan.data_dir);
  const auto front = web->snapshot().front.pid;
  BOOST_TEST((std::find(items[0].pids.begin(), items[0].pids.end(), front) != items[0].pids.end()));
  BOOST_TEST(engine->list_dangling({plan.site_name}).empty());
}

BOOST_AUTO_TEST_CASE(destroying_the_site_object_mid_operation_is_safe) {
  config.applications.push_back(make_app("local/site"));
  create();
  auto called = std::make_shared<std::atomic<bool>>(false);
  web->start([called](std::optional<failure>) { *called = true; });
  web.reset();  // detached while the start is in flight
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  BOOST_TEST(!*called, "a completion ran after the site was destroyed");
  // Whatever the start got to run is found by its pid files and killed by
  // PID. It runs on without the object: wait for its front (on a loaded
  // machine it comes after the half second), or give up after five seconds.
  eventually(
      [&] {
        bool front = false;
        for (const auto& item : engine->list_dangling({})) {
          for (int pid : item.pids) seen.insert(pid);
          front = front || !item.pids.empty();
        }
        return front;
      },
      std::chrono::seconds(5));
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
