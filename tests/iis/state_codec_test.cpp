#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "iis/state_codec.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(state_codec)

BOOST_AUTO_TEST_CASE(round_trip_keeps_everything_but_secrets) {
  saved_site state;
  auto& plan = state.plan;
  plan.site_name = "a-web";
  plan.data_dir = "/d/sites/a-web";
  plan.task_dir = "/alloc/web";
  plan.secrets_dir = "/alloc/web/secrets";
  plan.tmp_dir = "/alloc/web/tmp";
  plan.stdout_path = "/alloc/alloc/logs/.web.stdout.fifo";
  plan.stderr_path = "/alloc/alloc/logs/.web.stderr.fifo";
  plan.nginx_path = "/usr/sbin/nginx";
  plan.directory_security = false;
  plan.front_worker_connections = 2048;
  binding_plan binding;
  binding.type = config::binding_type::https;
  binding.ip = "10.0.0.1";
  binding.port = 443;
  binding.hostname = "x.example";
  binding.require_sni = true;
  binding.certificate = certificate_plan{};
  binding.certificate->from = certificate_plan::source::pfx_file;
  binding.certificate->pfx_file = "/alloc/web/secrets/x.pfx";
  plan.bindings.push_back(binding);
  pool_plan pool;
  pool.name = "api";
  pool.periodic_restart = std::chrono::minutes(5);
  pool.queue_length = 42;
  pool.run_as_user = "www-data";
  pool.env = {{"A", "1"}, {"QUOTE", "say \"hi\"\n"}};
  pool.unavailable = config::unavailable_response::tcp_level;
  pool.overlapped_recycle = false;
  pool.start_mode = config::start_mode::always_running;
  pool.idle_timeout = std::chrono::seconds(45);
  pool.cpu_limit = 25000;
  pool.private_memory_limit_kb = 512000;
  plan.pools.push_back(pool);
  pool_plan plain;  // no limits: no keys, as in handles of earlier releases
  plain.name = "plain";
  plan.pools.push_back(plain);
  application_plan app;
  app.url_path = "/api/";
  app.physical_path = "/alloc/web/local/api";
  app.pool = "api";
  app.virtual_directories.push_back({"/api/img/", "/alloc/web/local/img"});
  plan.applications.push_back(app);
  plan.ignored_options = {"permit_iusr = false"};
  state.front = process_ref{1234, 99887766};
  saved_pool saved;
  saved.status = pool_status::started;
  saved.master = process_ref{1300, 5};
  saved.idle = true;
  saved.apps.push_back(saved_app{0, 40001, process_ref{1400, 6}});
  state.pools.push_back(saved);
  state.pools.push_back(saved_pool{});

  const auto back = decode_state(encode_state(state));
  BOOST_TEST(back.plan.site_name == "a-web");
  BOOST_TEST(back.plan.directory_security == false);
  BOOST_TEST(back.plan.front_worker_connections == 2048);
  BOOST_TEST(back.plan.bindings[0].ip == "10.0.0.1");
  BOOST_TEST(back.plan.bindings[0].require_sni);
  BOOST_TEST((back.plan.bindings[0].certificate->from == certificate_plan::source::pfx_file));
  BOOST_TEST(back.plan.pools[0].env.empty());  // kept out of Nomad's state
  auto with_env = back.plan;
  decode_environment(encode_environment(plan), with_env);
  BOOST_TEST(with_env.pools[0].env.at("QUOTE") == "say \"hi\"\n");
  BOOST_TEST(with_env.pools[0].env.at("A") == "1");
  BOOST_TEST(encode_state(state).find("QUOTE") == std::string::npos);
  BOOST_TEST(back.plan.pools[0].periodic_restart->count() == 300000);
  BOOST_TEST(*back.plan.pools[0].queue_length == 42);
  BOOST_TEST(back.plan.pools[0].cpu_limit == 25000);
  BOOST_TEST(back.plan.pools[0].private_memory_limit_kb == 512000);
  BOOST_TEST(back.plan.pools[1].cpu_limit == 0);
  BOOST_TEST(back.plan.pools[1].private_memory_limit_kb == 0);
  // The site's cgroup is not in Nomad's state: a recovery reads it from the data dir.
  BOOST_TEST(back.plan.cgroup.empty());
  BOOST_TEST(!back.plan.pools[0].overlapped_recycle);
  BOOST_TEST((back.plan.pools[0].unavailable == config::unavailable_response::tcp_level));
  BOOST_TEST(back.plan.applications[0].virtual_directories[0].url_path == "/api/img/");
  BOOST_TEST(back.plan.ignored_options.size() == 1u);
  BOOST_TEST((back.front == state.front));
  BOOST_TEST((back.pools[0].status == pool_status::started));
  BOOST_TEST((back.pools[0].master == saved.master));
  BOOST_TEST(back.pools[0].idle);
  BOOST_TEST((back.plan.pools[0].start_mode == config::start_mode::always_running));
  BOOST_TEST(back.plan.pools[0].idle_timeout->count() == 45000);
  BOOST_TEST(back.pools[0].apps[0].port == 40001);
  BOOST_TEST((back.pools[0].apps[0].process == process_ref{1400, 6}));
}

BOOST_AUTO_TEST_CASE(a_handle_of_an_earlier_release_keeps_its_fronts_connections) {
  saved_site state;
  state.plan.site_name = "old";
  state.plan.front_worker_connections = 1024;
  auto text = encode_state(state);
  const std::string key = "\"front_worker_connections\":1024,";
  const auto at = text.find(key);
  BOOST_REQUIRE(at != std::string::npos);
  text.erase(at, key.size());  // as earlier releases wrote it
  BOOST_TEST(decode_state(text).plan.front_worker_connections == 4096);
}

BOOST_AUTO_TEST_CASE(a_task_in_a_website_records_it) {
  saved_site state;
  state.plan.site_name = "a-web";
  state.plan.data_dir = "/d/sites/a-web";
  state.front = process_ref{700, 9};
  const auto own = encode_state(state);
  BOOST_TEST(own.find("\"website\"") == std::string::npos);  // as version 1 wrote it
  BOOST_TEST(decode_state(own).plan.website.empty());
  state.plan.website = "shop";
  const auto text = encode_state(state);
  BOOST_TEST(text.find("\"version\":2") != std::string::npos);
  const auto back = decode_state(text);
  BOOST_TEST(back.plan.website == "shop");
  BOOST_TEST((back.front == process_ref{700, 9}));
  // A version 1 handle (no website) still decodes.
  std::string v1 = own;
  v1.replace(v1.find("\"version\":2"), 11, "\"version\":1");
  BOOST_TEST(decode_state(v1).plan.site_name == "a-web");
}

BOOST_AUTO_TEST_CASE(bad_bytes_are_errors) {
  BOOST_CHECK_THROW(decode_state("not json"), std::runtime_error);
  BOOST_CHECK_THROW(decode_state("{\"version\":7}"), std::runtime_error);
  BOOST_CHECK_THROW(decode_state("{\"version\":0}"), std::runtime_error);
  BOOST_CHECK_THROW(decode_state("{\"version\":1,\"plan\":{}}"), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
