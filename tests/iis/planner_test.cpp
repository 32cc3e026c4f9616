#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>

#include "config/error.hpp"
#include "iis/model.hpp"
#include "iis/process.hpp"
#include "iis/unix_users.hpp"
#include "iis/website.hpp"
#include "test_support.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

struct planner_fixture {
  temp_dir root;
  fake_alloc alloc{root.path()};
  config::driver_config driver = test_driver(root.path());
  task_context task = test_task(alloc, 23456);
  config::task_config config;

  planner_fixture() {
    config.applications.push_back(make_app("local/site"));
    config.application_pools.push_back(make_pool("default"));
    config.bindings.push_back(http_binding());
  }
  site_plan plan(bool as_root = ::geteuid() == 0) {
    return plan_site(config, task, driver, as_root);
  }
  std::string field_of_error() {
    try {
      plan();
    } catch (const config::config_error& e) {
      return e.path();
    }
    return "(no error)";
  }
  std::string field_of_error_for(const std::string& path) {
    config.applications[0].path = path;
    return field_of_error();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_FIXTURE_TEST_SUITE(planner, planner_fixture)

BOOST_AUTO_TEST_CASE(pool_status_names) {
  BOOST_TEST(std::string(to_string(pool_status::starting)) == "Starting");
  BOOST_TEST(std::string(to_string(pool_status::started)) == "Started");
  BOOST_TEST(std::string(to_string(pool_status::stopping)) == "Stopping");
  BOOST_TEST(std::string(to_string(pool_status::stopped)) == "Stopped");
  BOOST_TEST(std::string(to_string(pool_status::unknown)) == "Unknown");
}

BOOST_AUTO_TEST_CASE(site_name_and_paths) {
  task.task_name = "web";
  const auto p = plan();
  BOOST_TEST(p.site_name == task.alloc_id + "-web");
  BOOST_TEST(p.data_dir == driver.data_dir + "/sites/" + p.site_name);
  BOOST_TEST(p.task_dir == alloc.task_dir());
  BOOST_TEST(p.secrets_dir == alloc.task_dir() + "/secrets");
  BOOST_TEST(p.tmp_dir == alloc.task_dir() + "/tmp");
  BOOST_TEST(p.stdout_path == alloc.stdout_path);
  BOOST_REQUIRE(p.applications.size() == 1u);
  BOOST_TEST(p.applications[0].url_path == "/");
  BOOST_TEST(p.applications[0].physical_path == alloc.task_dir() + "/local/site");
  BOOST_TEST(p.applications[0].pool == "default");
}

BOOST_AUTO_TEST_CASE(site_name_is_filesystem_safe) {
  task.alloc_id = "a/b c";
  task.task_name = "t:1";
  const auto p = plan();
  BOOST_TEST(p.site_name == "a_b_c-t_1");
}

BOOST_AUTO_TEST_CASE(windows_separators_and_dots_are_normalised) {
  config.applications[0].path = "local\\site\\.\\sub\\..";
  BOOST_TEST(plan().applications[0].physical_path == alloc.task_dir() + "/local/site");
}

BOOST_AUTO_TEST_CASE(absolute_path_inside_alloc_dir_is_accepted) {
  config.applications[0].path = alloc.alloc_dir + "/alloc/data/site/";
  BOOST_TEST(plan().applications[0].physical_path == alloc.alloc_dir + "/alloc/data/site");
}

BOOST_AUTO_TEST_CASE(paths_escaping_the_alloc_dir_are_refused) {
  config.applications[0].path = "../../../etc";
  BOOST_TEST(field_of_error() == "application[0].path");
  config.applications[0].path = "/etc";
  BOOST_TEST(field_of_error() == "application[0].path");
}

BOOST_AUTO_TEST_CASE(symlinks_escaping_the_alloc_dir_are_refused) {
  std::filesystem::create_directory_symlink("/etc", alloc.task_dir() + "/local/link");
  config.applications[0].path = "local/link";
  BOOST_TEST(field_of_error() == "application[0].path");
}

BOOST_AUTO_TEST_CASE(secrets_can_never_be_served) {
  config.applications[0].path = "secrets";
  BOOST_TEST(field_of_error() == "application[0].path");
  config.applications[0].path = "local/../secrets/sub";
  BOOST_TEST(field_of_error() == "application[0].path");
  config.applications[0].path = "local/site";
  config::virtual_directory vdir;
  vdir.alias = "keys";
  vdir.path = "secrets";
  config.applications[0].virtual_directories.push_back(vdir);
  BOOST_TEST(field_of_error() == "application[0].virtual_directory[0].path");
}

BOOST_AUTO_TEST_CASE(private_the_task_dir_and_siblings_are_refused) {
  const auto error_of = [&](const std::string& path) {
    config.applications[0].path = path;
    try {
      plan();
    } catch (const config::config_error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  for (const char* path : {"private", "private/x", "local/../private"}) {
    BOOST_TEST(field_of_error_for(path) == "application[0].path", path);
    BOOST_TEST(error_of(path).find("private/") != std::string::npos, error_of(path));
  }
  for (const char* path : {".", "local/..", "./"}) {
    BOOST_TEST(field_of_error_for(path) == "application[0].path", path);
    BOOST_TEST(error_of(path).find("task directory itself") != std::string::npos, error_of(path));
  }
  BOOST_TEST(error_of("..").find("allocation directory itself") != std::string::npos);
  BOOST_TEST(error_of("../alloc").find("shared alloc/ folder itself") != std::string::npos);
  BOOST_TEST(error_of("../alloc/logs").find("alloc/logs") != std::string::npos);
  // A sibling task of the allocation: its files, above all its secrets.
  for (const char* path : {"../side/secrets", "../side/local", "../side", "../side/private"}) {
    BOOST_TEST(field_of_error_for(path) == "application[0].path", path);
    BOOST_TEST(error_of(path).find("another task (\"side\")") != std::string::npos, error_of(path));
  }
  BOOST_TEST(error_of(alloc.alloc_dir + "/side/secrets").find("another task") != std::string::npos);
  // The allocation's shared folder is fine: tasks share files through it.
  config.applications[0].path = "../alloc/data/site";
  BOOST_TEST(plan().applications[0].physical_path == alloc.alloc_dir + "/alloc/data/site");
  config.applications[0].path = "local/app";
  BOOST_TEST(plan().applications[0].physical_path == alloc.task_dir() + "/local/app");
}

BOOST_AUTO_TEST_CASE(virtual_directories_follow_the_same_rules) {
  config::virtual_directory vdir;
  vdir.alias = "ok";
  vdir.path = "../alloc/data";
  config.applications[0].virtual_directories.push_back(vdir);
  vdir.alias = "bad";
  vdir.path = "../side/secrets";
  config.applications[0].virtual_directories.push_back(vdir);
  BOOST_TEST(field_of_error() == "application[0].virtual_directory[1].path");
  config.applications[0].virtual_directories[1].path = ".";
  BOOST_TEST(field_of_error() == "application[0].virtual_directory[1].path");
  config.applications[0].virtual_directories[1].path = "private";
  BOOST_TEST(field_of_error() == "application[0].virtual_directory[1].path");
}

BOOST_AUTO_TEST_CASE(symlinked_folders_are_judged_by_where_they_lead) {
  namespace fs = std::filesystem;
  fs::create_directories(alloc.alloc_dir + "/side/secrets");
  fs::create_directory_symlink("../../side/secrets", alloc.task_dir() + "/local/side-keys");
  fs::create_directory_symlink("../secrets", alloc.task_dir() + "/local/keys");
  fs::create_directory_symlink("../../alloc/data", alloc.task_dir() + "/local/shared");
  for (const char* path : {"local/side-keys", "local/keys", "local/keys/sub"}) {
    BOOST_TEST(field_of_error_for(path) == "application[0].path", path);
  }
  config.applications[0].path = "local/shared";  // stays in the allocation's shared folder
  BOOST_TEST(plan().applications[0].physical_path == alloc.task_dir() + "/local/shared");
}

BOOST_AUTO_TEST_CASE(host_folders_only_when_allowed) {
  temp_dir host;  // not below the allocations' folder
  std::filesystem::create_directories(host.path() + "/www/site");
  config.applications[0].path = host.path() + "/www/site";
  BOOST_TEST(field_of_error() == "application[0].path");
  driver.allowed_host_paths = {host.path() + "/www"};
  BOOST_TEST(plan().applications[0].physical_path == host.path() + "/www/site");
  config.applications[0].path = host.path();  // above the allowed folder
  BOOST_TEST(field_of_error() == "application[0].path");
  // Windows job files: C:\inetpub\wwwroot is relative on Linux, so below the task dir.
  config.applications[0].path = "C:\\inetpub\\wwwroot";
  BOOST_TEST(plan().applications[0].physical_path == alloc.task_dir() + "/C:/inetpub/wwwroot");
  // A symlink in the allowed folder that leads elsewhere is refused.
  std::filesystem::create_directory_symlink("/etc", host.path() + "/www/etc");
  config.applications[0].path = host.path() + "/www/etc";
  BOOST_TEST(field_of_error() == "application[0].path");
  // The allocations and the driver's data can never be host folders.
  driver.allowed_host_paths = {"/tmp"};
  config.applications[0].path = alloc.alloc_dir + "/../";
  BOOST_TEST(field_of_error() == "application[0].path");
  config.applications[0].path = driver.data_dir;
  BOOST_TEST(field_of_error() == "application[0].path");
  // Certificates never come from host folders.
  config.applications[0].path = "local/site";
  driver.allowed_host_paths = {host.path() + "/www"};
  config.bindings[0].type = config::binding_type::https;
  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->cert_file = host.path() + "/www/site/c.pem";
  config.bindings[0].certificate->key_file = "secrets/k.pem";
  BOOST_TEST(field_of_error() == "binding[0].certificate.cert_file");
}

BOOST_AUTO_TEST_CASE(certificates_may_come_from_secrets_but_not_a_sibling) {
  config.bindings[0].type = config::binding_type::https;
  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->cert_file = "secrets/c.pem";
  config.bindings[0].certificate->key_file = "../side/secrets/k.pem";
  BOOST_TEST(field_of_error() == "binding[0].certificate.key_file");
  config.bindings[0].certificate->key_file = "private/k.pem";
  BOOST_TEST(field_of_error() == "binding[0].certificate.key_file");
  config.bindings[0].certificate->key_file = "secrets/k.pem";
  BOOST_TEST(plan().bindings[0].certificate->key_file == alloc.task_dir() + "/secrets/k.pem");
}

BOOST_AUTO_TEST_CASE(aliases_become_url_paths) {
  config.applications.push_back(make_app("local/api", "api"));
  config::virtual_directory vdir;
  vdir.alias = "images";
  vdir.path = "local/img";
  config.applications[1].virtual_directories.push_back(vdir);
  const auto p = plan();
  BOOST_TEST(p.applications[1].url_path == "/api/");
  BOOST_TEST(p.applications[1].virtual_directories[0].url_path == "/api/images/");
  BOOST_TEST(p.applications[1].virtual_directories[0].physical_path ==
             alloc.task_dir() + "/local/img");
}

BOOST_AUTO_TEST_CASE(port_labels_and_static_ports) {
  BOOST_TEST(plan().bindings[0].port == 23456);
  BOOST_TEST(plan().bindings[0].ip == "127.0.0.1");
  config.bindings[0].port = "nope";
  BOOST_TEST(field_of_error() == "binding[0].port");
  config.bindings[0].port = "8081";
  config.bindings[0].hostname = "example.com";
  BOOST_TEST(plan().bindings[0].port == 8081);
  BOOST_TEST(plan().bindings[0].hostname == "example.com");
  config.bindings[0].ip_address = "*";
  BOOST_TEST(plan().bindings[0].ip == "");
  config.bindings[0].ip_address.reset();
  BOOST_TEST(plan().bindings[0].ip == "");
}

BOOST_AUTO_TEST_CASE(https_certificate_sources) {
  config.bindings[0].type = config::binding_type::https;
  config.bindings[0].hostname = "shop.example";
  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->use_self_signed = true;
  auto p = plan();
  BOOST_REQUIRE(p.bindings[0].certificate);
  BOOST_TEST((p.bindings[0].certificate->from == certificate_plan::source::self_signed));
  const std::vector<std::string> expected{"shop.example", "localhost", "127.0.0.1"};
  BOOST_TEST(p.bindings[0].certificate->hostnames == expected, boost::test_tools::per_element());

  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->pfx_file = "secrets/site.pfx";
  config.bindings[0].certificate->password = "pw";
  p = plan();
  BOOST_TEST(p.bindings[0].certificate->pfx_file == alloc.task_dir() + "/secrets/site.pfx");
  BOOST_TEST(p.bindings[0].certificate->pfx_password == "pw");

  config.bindings[0].certificate->pfx_file = "/etc/ssl/private/other.pfx";
  BOOST_TEST(field_of_error() == "binding[0].certificate.pfx_file");

  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->thumbprint = "AB";
  BOOST_TEST(field_of_error() == "binding[0].certificate.thumbprint");
}

BOOST_AUTO_TEST_CASE(the_fronts_connections_come_from_the_driver) {
  BOOST_TEST(plan().front_worker_connections == 1024);
  driver.front_worker_connections = 3000;
  BOOST_TEST(plan().front_worker_connections == 3000);
}

BOOST_AUTO_TEST_CASE(single_hop_is_for_a_sole_pool_on_http_bindings_without_a_memory_limit) {
  BOOST_TEST(plan().pools[0].single_hop);  // on by default
  driver.single_hop_static = false;
  BOOST_TEST(!plan().pools[0].single_hop);
  driver.single_hop_static = true;
  BOOST_TEST(plan().pools[0].single_hop);
  // The private key of an https binding stays out of the pool user's processes.
  config.bindings[0].type = config::binding_type::https;
  config.bindings[0].certificate = config::certificate{};
  config.bindings[0].certificate->use_self_signed = true;
  BOOST_TEST(!plan().pools[0].single_hop);
  config.bindings[0] = http_binding();
  config.application_pools[0].private_memory_limit = 100000;
  BOOST_TEST(!plan().pools[0].single_hop);
  config.application_pools[0].private_memory_limit.reset();
  config.application_pools[0].disable_overlapped_recycle = true;
  BOOST_TEST(!plan().pools[0].single_hop);
  config.application_pools[0].disable_overlapped_recycle.reset();
  config.application_pools.push_back(make_pool("second"));
  BOOST_TEST(!plan().pools[0].single_hop);
  BOOST_TEST(!plan().pools[1].single_hop);
}

BOOST_AUTO_TEST_CASE(http_and_https_cannot_share_a_port) {
  config::binding second = http_binding();
  second.type = config::binding_type::https;
  second.hostname = "x.example";
  second.certificate = config::certificate{};
  second.certificate->use_self_signed = true;
  config.bindings.push_back(second);
  BOOST_TEST(field_of_error() == "binding[1]");
}

BOOST_AUTO_TEST_CASE(identities_map_to_unix_users) {
  // As root every ApplicationPoolIdentity pool gets an account of its own,
  // made when the site starts (planning creates nothing).
  config.application_pools.push_back(make_pool("second"));
  const auto own = plan(true);
  BOOST_TEST(*own.pools[0].run_as_user == pool_user_name(task.alloc_id, task.task_name, "default"));
  BOOST_TEST(*own.pools[1].run_as_user == pool_user_name(task.alloc_id, task.task_name, "second"));
  BOOST_TEST(*own.pools[0].run_as_user != *own.pools[1].run_as_user);
  BOOST_TEST(own.pools[0].managed_user_comment ==
             managed_user_comment("pool " + task.alloc_id + "/" + task.task_name + "/default"));
  BOOST_TEST(!find_account(*own.pools[0].run_as_user).has_value());
  config.application_pools.pop_back();
  auto& pool = config.application_pools[0];
  // Without root nothing changes: the workers run as the plugin's user.
  BOOST_TEST(*plan(false).pools[0].run_as_user == "www-data");
  BOOST_TEST(plan(false).pools[0].managed_user_comment.empty());
  pool.identity = "NetworkService";  // shared, like Windows' NetworkService
  BOOST_TEST(*plan(true).pools[0].run_as_user == "www-data");
  BOOST_TEST(*plan(false).pools[0].run_as_user == "www-data");
  BOOST_TEST(plan(true).pools[0].managed_user_comment.empty());
  pool.identity = "LocalService";
  BOOST_TEST(*plan().pools[0].run_as_user == "nobody");
  pool.identity = "LocalSystem";
  BOOST_TEST(*plan().pools[0].run_as_user == "root");
  pool.identity = "SpecificUser";
  pool.username = "daemon";
  BOOST_TEST(*plan().pools[0].run_as_user == "daemon");
  BOOST_TEST(plan(true).pools[0].managed_user_comment.empty());
  pool.username = "CONTOSO\\WebAppUser";
  BOOST_TEST(field_of_error() == "application_pool[default].username");
}

BOOST_AUTO_TEST_CASE(pool_defaults_env_and_rapid_fail) {
  driver.rapid_fail_max_crashes = 3;
  driver.rapid_fail_interval = std::chrono::seconds(30);
  const auto p = plan();
  const auto& pool = p.pools[0];
  BOOST_TEST(pool.start_time_limit.count() == 90000);
  BOOST_TEST(pool.shutdown_time_limit.count() == 90000);
  BOOST_TEST(*pool.queue_length == 1000);
  BOOST_TEST((pool.start_mode == config::start_mode::on_demand));
  BOOST_TEST(pool.idle_timeout->count() == 20 * 60 * 1000);  // IIS's processModel default
  BOOST_TEST(pool.overlapped_recycle);
  BOOST_TEST((pool.unavailable == config::unavailable_response::http_level));
  BOOST_TEST(pool.rapid_fail_max_crashes == 3);
  BOOST_TEST(pool.rapid_fail_interval.count() == 30000);
  BOOST_TEST(pool.env.at("PATH") == "/usr/local/bin:/usr/bin:/bin");
  BOOST_TEST(pool.env.at("TMP") == alloc.task_dir() + "/tmp");
  BOOST_TEST(pool.env.at("TEMP") == alloc.task_dir() + "/tmp");
  BOOST_TEST(pool.env.at("TMPDIR") == alloc.task_dir() + "/tmp");
}

BOOST_AUTO_TEST_CASE(pool_options_are_carried) {
  auto& pool = config.application_pools[0];
  pool.disable_overlapped_recycle = true;
  pool.service_unavailable_response = config::unavailable_response::tcp_level;
  pool.queue_length = 50;
  pool.start_time_limit = std::chrono::seconds(5);
  pool.shutdown_time_limit = std::chrono::seconds(7);
  pool.periodic_restart = std::chrono::hours(29);
  pool.cpu_limit = 30000;
  pool.private_memory_limit = 204800;
  const auto p = plan().pools[0];
  BOOST_TEST(p.cpu_limit == 30000);
  BOOST_TEST(p.private_memory_limit_kb == 204800);
  BOOST_TEST(!p.overlapped_recycle);
  BOOST_TEST((p.unavailable == config::unavailable_response::tcp_level));
  BOOST_TEST(*p.queue_length == 50);
  BOOST_TEST(p.start_time_limit.count() == 5000);
  BOOST_TEST(p.shutdown_time_limit.count() == 7000);
  BOOST_TEST(p.periodic_restart->count() == 29 * 3600 * 1000);
}

BOOST_AUTO_TEST_CASE(idle_timeout_zero_means_never) {
  config.application_pools[0].idle_timeout = std::chrono::seconds(0);
  BOOST_TEST(!plan().pools[0].idle_timeout.has_value());
  config.application_pools[0].idle_timeout = std::chrono::minutes(5);
  const auto p = plan();
  BOOST_TEST(p.pools[0].idle_timeout->count() == 5 * 60 * 1000);
  for (const auto& option : p.ignored_options) {
    BOOST_TEST(option.find("idle_timeout") == std::string::npos, option);
  }
}

BOOST_AUTO_TEST_CASE(ignored_options_are_listed) {
  auto& pool = config.application_pools[0];
  pool.managed_runtime_version = "v4.0";
  pool.managed_pipeline_mode = "Integrated";
  pool.enable_32bit_app_on_win64 = true;
  config.applications[0].enable_preload = true;
  config.applications[0].service_auto_start_enabled = true;
  config.applications[0].extensions.push_back(config::extension{"foo", "bar"});
  config.permit_iusr = false;
  const auto p = plan();
  auto has = [&](const std::string& text) {
    for (const auto& option : p.ignored_options) {
      if (option.find(text) != std::string::npos) return true;
    }
    return false;
  };
  BOOST_TEST(has("managed_runtime_version"));
  BOOST_TEST(has("managed_pipeline_mode"));
  BOOST_TEST(has("enable_32bit_app_on_win64"));
  BOOST_TEST(has("enable_preload"));
  BOOST_TEST(has("service_auto_start_enabled"));
  BOOST_TEST(has("extension \"foo\""));
  BOOST_TEST(has("permit_iusr = false"));
}

BOOST_AUTO_TEST_CASE(every_field_the_node_refuses_is_named_at_once) {
  config.applications[0].path = "../../etc";
  config.bindings[0].port = "nope";
  auto specific = make_pool("spec");
  specific.identity = "SpecificUser";
  specific.username = "no-such-user-nomad-iis";
  config.application_pools.push_back(specific);
  try {
    plan(true);
    BOOST_ERROR("a config with three refused fields was planned");
  } catch (const config::config_error& e) {
    const std::string message = e.what();
    BOOST_TEST(e.path() == "");
    BOOST_TEST(message.rfind("3 problems: ", 0) == 0u, message);
    for (const char* field :
         {"application_pool[spec].username: ", "application[0].path: ", "binding[0].port: "})
      BOOST_TEST(message.find(field) != std::string::npos, field << " missing in " << message);
  }
}

BOOST_AUTO_TEST_CASE(target_website_must_be_declared_and_allowed) {
  config.target_website = "Default Web Site";
  BOOST_TEST(field_of_error() == "target_website");
  config::website_config shop;
  shop.name = "shop";
  config::binding binding;
  binding.port = "8080";
  shop.bindings.push_back(binding);
  driver.websites.push_back(shop);
  config.target_website = "shop";
  config.bindings.clear();
  config.applications[0].alias = "app";
  // Declared but not allowed.
  try {
    plan();
    BOOST_FAIL("planned a website that allowed_target_websites does not allow");
  } catch (const config::config_error& e) {
    BOOST_TEST(e.path() == "target_website");
    BOOST_TEST(std::string(e.what()).find("allowed_target_websites") != std::string::npos);
  }
  driver.allowed_target_websites = {"shop"};
  const auto p = plan();
  BOOST_TEST(p.website == "shop");
  BOOST_TEST(p.bindings.empty());
  BOOST_TEST(p.applications.at(0).url_path == "/app/");
}

BOOST_AUTO_TEST_CASE(a_task_in_a_website_brings_no_bindings_and_no_root) {
  config::website_config shop;
  shop.name = "shop";
  driver.websites.push_back(shop);
  driver.allowed_target_websites = {"*"};
  config.target_website = "shop";
  config.applications[0].alias = "app";
  BOOST_TEST(field_of_error() == "binding");
  config.bindings.clear();
  config.applications[0].alias = "/";
  BOOST_TEST(field_of_error() == "application[0].alias");
}

BOOST_AUTO_TEST_CASE(websites_are_planned_from_their_blocks) {
  config::website_config shop;
  shop.name = "shop";
  shop.physical_path = "/srv/www/shop";
  config::binding plain;
  plain.port = "8080";
  plain.ip_address = "[::1]";
  config::binding tls;
  tls.type = config::binding_type::https;
  tls.port = "8443";
  tls.hostname = "shop.example";
  tls.certificate = config::certificate{};
  tls.certificate->use_self_signed = true;
  shop.bindings = {plain, tls};
  const auto p = plan_website(shop, driver);
  BOOST_TEST(p.website == "shop");
  BOOST_TEST(p.data_dir == driver.data_dir + "/websites/shop");
  BOOST_TEST(p.website_root == "/srv/www/shop");
  BOOST_TEST(p.stdout_path == p.data_dir + "/logs/access.log");
  BOOST_TEST_REQUIRE(p.bindings.size() == 2u);
  BOOST_TEST(p.bindings[0].ip == "::1");
  BOOST_TEST(p.bindings[0].port == 8080);
  BOOST_TEST((p.bindings[1].certificate->from == certificate_plan::source::self_signed));
  BOOST_TEST(p.bindings[1].certificate->hostnames.at(0) == "shop.example");
  shop.bindings[0].ip_address = "not-an-ip";
  BOOST_CHECK_THROW(plan_website(shop, driver), config::config_error);
  // Keys are stable, short and differ by site.
  BOOST_TEST(website_member_key("a-web") == website_member_key("a-web"));
  BOOST_TEST(website_member_key("a-web") != website_member_key("b-web"));
  BOOST_TEST(website_member_key("a-web").size() == 16u);
  // What a task claims in a website: its applications and virtual directories.
  site_plan task;
  task.applications.push_back(application_plan{"/a/", "/x", "default", {{"/a/img/", "/y"}}});
  BOOST_TEST((claimed_paths(task) == std::vector<std::string>{"/a/", "/a/img/"}));
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
