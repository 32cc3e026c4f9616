// Decodes the bytes Nomad's own encoder produced for real job and agent
// configs (tests/data/config/*.msgpack, see scripts/regen-golden.sh).

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "config/driver_config.hpp"
#include "config/task_config.hpp"
#include "test_support.hpp"

namespace cfg = nomad_iis::config;
using namespace std::chrono_literals;
using config_test::read_data_file;

BOOST_AUTO_TEST_SUITE(golden)

BOOST_AUTO_TEST_CASE(static_sample_app) {
  cfg::task_config config = cfg::decode_task_config(read_data_file("task_static_sample.msgpack"));
  BOOST_TEST(!config.target_website);
  BOOST_TEST(config.application_pools.empty());
  BOOST_TEST_REQUIRE(config.applications.size() == 1u);
  BOOST_TEST(config.applications[0].path == "local");
  BOOST_TEST(config.applications[0].alias == "");
  BOOST_TEST(config.applications[0].application_pool == "default");
  BOOST_TEST(config.permit_iusr);
  BOOST_TEST_REQUIRE(config.bindings.size() == 1u);
  BOOST_TEST((config.bindings[0].type == cfg::binding_type::http));
  BOOST_TEST(config.bindings[0].port == "httplabel");
  BOOST_TEST(!config.bindings[0].certificate);

  cfg::validate(config, cfg::driver_config{});
  BOOST_TEST_REQUIRE(config.application_pools.size() == 1u);  // the implicit default pool
  BOOST_TEST(config.application_pools[0].name == "default");
  BOOST_TEST(config.application_pools[0].identity == "ApplicationPoolIdentity");
  BOOST_TEST(config.application_pools[0].declared_at == "");
}

BOOST_AUTO_TEST_CASE(aspnet_multi_pool_app) {
  cfg::task_config config = cfg::decode_task_config(read_data_file("task_aspnet_multi.msgpack"));
  BOOST_TEST_REQUIRE(config.application_pools.size() == 3u);
  const auto& root_pool = config.application_pools[0];
  BOOST_TEST(root_pool.name == "default");
  BOOST_TEST(root_pool.managed_runtime_version.value_or("") == "None");
  BOOST_TEST((root_pool.start_mode == cfg::start_mode::always_running));
  BOOST_TEST(root_pool.declared_at == "application_pool[0]");
  const auto& pool_a = config.application_pools[1];
  BOOST_TEST(pool_a.name == "appA");
  BOOST_TEST(pool_a.identity == "NetworkService");
  BOOST_TEST(pool_a.idle_timeout.value().count() == cfg::duration(20min).count());
  const auto& pool_b = config.application_pools[2];
  BOOST_TEST(pool_b.identity == "SpecificUser");
  BOOST_TEST(pool_b.username.value_or("") == "webapp");
  BOOST_TEST(pool_b.password.value_or("") == "SecretPassword123");
  BOOST_TEST(pool_b.periodic_restart.value().count() == cfg::duration(24h).count());
  BOOST_TEST((pool_b.start_mode == cfg::start_mode::on_demand));

  BOOST_TEST_REQUIRE(config.applications.size() == 3u);
  const auto& root = config.applications[0];
  BOOST_TEST(root.alias == "");
  BOOST_TEST_REQUIRE(root.virtual_directories.size() == 2u);
  BOOST_TEST(root.virtual_directories[0].alias == "images");
  BOOST_TEST(root.virtual_directories[1].alias == "docs");  // leading '/' trimmed
  BOOST_TEST(root.virtual_directories[1].path == "local/docs");
  BOOST_TEST(config.applications[1].alias == "app-a");
  BOOST_TEST(config.applications[1].application_pool == "appA");
  BOOST_TEST(config.applications[2].enable_preload.value_or(false));

  BOOST_TEST_REQUIRE(config.bindings.size() == 3u);
  const auto& pem = config.bindings[1];
  BOOST_TEST((pem.type == cfg::binding_type::https));
  BOOST_TEST(pem.hostname.value_or("") == "app.example.com");
  BOOST_TEST(pem.require_sni.value_or(false));
  BOOST_TEST_REQUIRE(pem.certificate.has_value());
  BOOST_TEST(pem.certificate->cert_file.value_or("") == "secrets/certificate.pem");
  BOOST_TEST(pem.certificate->key_file.value_or("") == "secrets/certificate.pem");
  BOOST_TEST(!pem.certificate->use_self_signed);
  const auto& pfx = config.bindings[2];
  BOOST_TEST(pfx.port == "443");
  BOOST_TEST(pfx.certificate->pfx_file.value_or("") == "secrets/mycertificate.pfx");
  BOOST_TEST(pfx.certificate->password.value_or("") == "super#secret");

  cfg::driver_config driver;
  driver.allowed_apppool_identities = {"ApplicationPoolIdentity", "NetworkService", "SpecificUser"};
  driver.allowed_apppool_users = {"webapp"};
  cfg::validate(config, driver);
  BOOST_TEST(config.application_pools.size() == 3u);
}

BOOST_AUTO_TEST_CASE(deprecated_application_pool_spelling_is_merged_first) {
  cfg::task_config config = cfg::decode_task_config(read_data_file("task_deprecated_pool.msgpack"));
  BOOST_TEST_REQUIRE(config.application_pools.size() == 2u);
  BOOST_TEST(config.application_pools[0].name == "default");
  BOOST_TEST(config.application_pools[0].declared_at == "applicationPool[0]");
  BOOST_TEST((config.application_pools[0].start_mode == cfg::start_mode::always_running));
  BOOST_TEST(config.application_pools[1].name == "api");
  BOOST_TEST(config.application_pools[1].declared_at == "application_pool[0]");
  BOOST_TEST(config.applications[0].service_auto_start_enabled.value_or(false));
  BOOST_TEST(config.applications[0].service_auto_start_provider.value_or("") ==
             "MyPreloadProvider");
  BOOST_TEST_REQUIRE(config.service_auto_start_providers.size() == 1u);
  BOOST_TEST(config.service_auto_start_providers[0].type ==
             "MyNamespace.ApplicationPreload, MyAssembly");
  cfg::validate(config, cfg::driver_config{});
  BOOST_TEST(config.application_pools.size() == 2u);
}

BOOST_AUTO_TEST_CASE(every_feature) {
  cfg::task_config config = cfg::decode_task_config(read_data_file("task_max_features.msgpack"));
  BOOST_TEST(config.target_website.value_or("") == "Default Web Site");
  BOOST_TEST(!config.permit_iusr);
  BOOST_TEST_REQUIRE(config.application_pools.size() == 2u);
  const auto& web = config.application_pools[0];
  BOOST_TEST(web.managed_pipeline_mode.value_or("") == "Classic");
  BOOST_TEST(web.managed_runtime_version.value_or("") == "v4.0");
  BOOST_TEST(web.idle_timeout->count() == cfg::duration(90min).count());
  BOOST_TEST(web.disable_overlapped_recycle.value_or(false));
  BOOST_TEST(web.periodic_restart->count() == cfg::duration(26h).count());
  BOOST_TEST(web.enable_32bit_app_on_win64.has_value());
  BOOST_TEST(!*web.enable_32bit_app_on_win64);
  BOOST_TEST((web.service_unavailable_response == cfg::unavailable_response::tcp_level));
  BOOST_TEST(web.queue_length.value_or(0) == 5000);
  BOOST_TEST(web.start_time_limit->count() == 90000);
  BOOST_TEST(web.shutdown_time_limit->count() == 90500);
  BOOST_TEST(web.cpu_limit.value_or(0) == 50000);
  BOOST_TEST(web.private_memory_limit.value_or(0) == 1048576);
  BOOST_TEST(!config.application_pools[1].cpu_limit);
  BOOST_TEST(!config.application_pools[1].private_memory_limit);
  BOOST_TEST(web.username.value_or("") == "www-data");
  BOOST_TEST(!web.password);
  BOOST_TEST_REQUIRE(web.extensions.size() == 2u);
  BOOST_TEST(web.extensions[1].name == "cpu.limit");
  BOOST_TEST(web.extensions[1].value == "50000");
  // "65535" was a string in the job; hcldec converted it to a number.
  BOOST_TEST(config.application_pools[1].queue_length.value_or(0) == 65535);

  const auto& shop = config.applications.at(0);
  BOOST_TEST(shop.alias == "shop");
  BOOST_TEST(shop.path == "/srv/shop");
  BOOST_TEST(!shop.service_auto_start_enabled.value_or(true));
  BOOST_TEST(shop.virtual_directories.at(0).alias == "media/large");
  BOOST_TEST(shop.virtual_directories.at(0).extensions.at(0).value == "ClearText");
  BOOST_TEST(shop.extensions.at(0).name == "preloadEnabled");

  BOOST_TEST_REQUIRE(config.bindings.size() == 2u);
  BOOST_TEST(config.bindings[0].ip_address.value_or("") == "127.0.0.1");
  BOOST_TEST((config.bindings[1].type == cfg::binding_type::https));  // "HTTPS" in the job
  BOOST_TEST(config.bindings[1].certificate->use_self_signed);
  BOOST_TEST(!config.bindings[1].require_sni.value_or(true));

  cfg::driver_config driver;
  driver.allowed_target_websites = {"Default Web Site"};
  driver.allowed_apppool_identities = {"SpecificUser"};
  driver.allowed_apppool_users = {"*"};
  cfg::validate(config, driver);
  // "unused" (LocalSystem, not allowed here) is dropped rather than refused.
  BOOST_TEST_REQUIRE(config.application_pools.size() == 1u);
  BOOST_TEST(config.application_pools[0].name == "web");
}

BOOST_AUTO_TEST_CASE(empty_driver_config_gives_the_defaults) {
  const cfg::driver_config decoded =
      cfg::decode_driver_config(read_data_file("driver_empty.msgpack"));
  const cfg::driver_config defaults;
  BOOST_TEST(decoded.enabled == defaults.enabled);
  BOOST_TEST(decoded.fingerprint_interval.count() == defaults.fingerprint_interval.count());
  BOOST_TEST(decoded.directory_security == defaults.directory_security);
  BOOST_TEST(decoded.allowed_target_websites.empty());
  BOOST_TEST(decoded.allowed_apppool_identities == defaults.allowed_apppool_identities);
  BOOST_TEST(decoded.allowed_apppool_users.empty());
  BOOST_TEST(decoded.allowed_host_paths.empty());
  BOOST_TEST(decoded.placeholder_app_path == "/var/www/html");
  BOOST_TEST(!decoded.procdump);
  BOOST_TEST(decoded.dump_tool_path() == "/usr/bin/gcore");
  BOOST_TEST(decoded.nginx_path == defaults.nginx_path);
  BOOST_TEST(decoded.chromium_path == defaults.chromium_path);
  BOOST_TEST(decoded.data_dir == "");
  BOOST_TEST(decoded.rapid_fail_max_crashes == defaults.rapid_fail_max_crashes);
  BOOST_TEST(decoded.rapid_fail_interval.count() == defaults.rapid_fail_interval.count());
  BOOST_TEST(decoded.single_hop_static == defaults.single_hop_static);
  BOOST_TEST(decoded.front_worker_connections == 1024);
  BOOST_TEST(decoded.upload_max_bytes == defaults.upload_max_bytes);
  BOOST_TEST(decoded.zip_max_entries == defaults.zip_max_entries);
  BOOST_TEST(decoded.zip_max_uncompressed_bytes == defaults.zip_max_uncompressed_bytes);
  BOOST_TEST(decoded.allow_secrets_access == defaults.allow_secrets_access);
  BOOST_TEST(decoded.screenshot_concurrency == defaults.screenshot_concurrency);
  BOOST_TEST(decoded.screenshot_timeout.count() == defaults.screenshot_timeout.count());
  BOOST_TEST(decoded.procdump_concurrency == defaults.procdump_concurrency);
  BOOST_TEST(decoded.request_header_timeout.count() == defaults.request_header_timeout.count());
  BOOST_TEST(decoded.management_api_max_connections_per_client ==
             defaults.management_api_max_connections_per_client);
}

BOOST_AUTO_TEST_CASE(full_driver_config) {
  const cfg::driver_config config =
      cfg::decode_driver_config(read_data_file("driver_full.msgpack"));
  BOOST_TEST(config.enabled);
  BOOST_TEST(config.fingerprint_interval.count() == 10000);
  BOOST_TEST(!config.directory_security);
  BOOST_TEST(config.allowed_target_websites.size() == 2u);
  BOOST_TEST(config.allowed_apppool_identities.size() == 3u);
  BOOST_TEST(config.allowed_apppool_users.at(1) == "nomad-web");
  BOOST_TEST(config.allowed_host_paths.size() == 2u);
  BOOST_TEST(config.allowed_host_paths.at(1) == "/data/sites");
  BOOST_TEST(config.placeholder_app_path == "");
  BOOST_TEST_REQUIRE(config.procdump.has_value());
  BOOST_TEST(config.procdump->binary_path == "/usr/local/bin/gcore");
  BOOST_TEST(config.procdump->accept_eula);
  BOOST_TEST(config.dump_tool_path() == "/usr/local/bin/gcore");
  BOOST_TEST(config.nginx_path == "/opt/nginx/sbin/nginx");
  BOOST_TEST(config.chromium_path == "/usr/bin/chromium-browser");
  BOOST_TEST(config.data_dir == "/srv/nomad_iis");
  BOOST_TEST(config.effective_data_dir() == "/srv/nomad_iis");
  BOOST_TEST(config.rapid_fail_max_crashes == 3);
  BOOST_TEST(config.rapid_fail_interval.count() == 600000);
  BOOST_TEST(config.single_hop_static);
  BOOST_TEST(config.front_worker_connections == 8192);
  BOOST_TEST(config.upload_max_bytes == 10737418240ull);  // uint64 on the wire
  BOOST_TEST(config.zip_max_entries == 70000u);           // uint32 on the wire
  BOOST_TEST(config.zip_max_uncompressed_bytes == 21474836480ull);
  BOOST_TEST(config.allow_secrets_access);
  BOOST_TEST(config.screenshot_concurrency == 4);
  BOOST_TEST(config.screenshot_timeout.count() == 60000);
  BOOST_TEST(config.procdump_concurrency == 1);
  BOOST_TEST(config.request_header_timeout.count() == 2500);
  BOOST_TEST(config.management_api_max_connections_per_client == 64);
}

BOOST_AUTO_TEST_CASE(driver_config_from_the_original_docs) {
  const cfg::driver_config config =
      cfg::decode_driver_config(read_data_file("driver_docs_example.msgpack"));
  BOOST_TEST(config.allowed_apppool_users.at(1) == "CONTOSO\\WebAppUser");
  BOOST_TEST(config.procdump->binary_path == "C:\\procdump.exe");
  BOOST_TEST(config.fingerprint_interval.count() == 30000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(golden_builders)

// The hand-built documents the other tests edit are byte-identical to what
// Nomad's encoder produced for the same configs.
BOOST_AUTO_TEST_CASE(task_builder_matches_nomad_bytes) {
  BOOST_TEST(config_test::pack(config_test::task()) ==
             read_data_file("task_static_sample.msgpack"));
}

BOOST_AUTO_TEST_CASE(driver_builder_matches_nomad_bytes) {
  BOOST_TEST(config_test::pack(config_test::driver()) == read_data_file("driver_empty.msgpack"));
}

BOOST_AUTO_TEST_SUITE_END()
