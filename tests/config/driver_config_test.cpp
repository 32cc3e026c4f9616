// decode_driver_config's own rules and effective_data_dir().

#define BOOST_TEST_DYN_LINK
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "config/driver_config.hpp"
#include "test_support.hpp"

namespace cfg = nomad_iis::config;
using config_test::expect_config_error;
using config_test::node;
using config_test::node_list;

namespace {

cfg::driver_config decode(const node& doc) {
  return cfg::decode_driver_config(config_test::pack(doc));
}

std::string decode_fails(const node& doc, const std::string& path, const std::string& needle) {
  return expect_config_error([&] { decode(doc); }, path, needle);
}

/// Sets an environment variable for one scope.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~scoped_env() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(driver_config)

BOOST_AUTO_TEST_CASE(empty_bytes_give_the_defaults) {
  const cfg::driver_config config = cfg::decode_driver_config("");
  BOOST_TEST(config.enabled);
  BOOST_TEST(config.fingerprint_interval.count() == 30000);
  BOOST_TEST(config.allowed_apppool_identities.size() == 1u);
  BOOST_TEST(cfg::decode_driver_config("\xc0").fingerprint_interval.count() == 30000);
  expect_config_error([] { cfg::decode_driver_config("\x01"); }, "", "expected a block (map)");
}

BOOST_AUTO_TEST_CASE(fingerprint_interval_is_at_least_10s) {
  node doc = config_test::driver();
  doc["fingerprint_interval"] = "5s";
  const std::string message = decode_fails(doc, "fingerprint_interval", "at least 10s");
  BOOST_TEST(message == "fingerprint_interval: must be at least 10s, got \"5s\"");
  doc["fingerprint_interval"] = "00:00:10";
  BOOST_TEST(decode(doc).fingerprint_interval.count() == 10000);
  doc["fingerprint_interval"] = "soon";
  decode_fails(doc, "fingerprint_interval", "\"soon\" is not a duration");
}

BOOST_AUTO_TEST_CASE(other_durations_must_be_positive) {
  node doc = config_test::driver();
  doc["screenshot_timeout"] = "0s";
  decode_fails(doc, "screenshot_timeout", "must be at least 1ms");
  doc = config_test::driver();
  doc["rapid_fail_interval"] = "1x";
  decode_fails(doc, "rapid_fail_interval", "is not a duration");
  doc = config_test::driver();
  doc["request_header_timeout"] = "0ms";
  decode_fails(doc, "request_header_timeout", "must be at least 1ms");
  doc = config_test::driver();
  doc["management_api_max_connections_per_client"] = 0;
  decode_fails(doc, "management_api_max_connections_per_client", "must be between 1 and");
}

BOOST_AUTO_TEST_CASE(a_front_worker_holds_at_least_64_connections) {
  node doc = config_test::driver();
  doc["front_worker_connections"] = 4096;
  BOOST_TEST(decode(doc).front_worker_connections == 4096);
  doc["front_worker_connections"] = 16;
  decode_fails(doc, "front_worker_connections", "must be between 64 and");
}

BOOST_AUTO_TEST_CASE(lists_and_blocks) {
  node doc = config_test::driver();
  doc["allowed_apppool_identities"] = node_list{"NetworkService", "Root"};
  decode_fails(doc, "allowed_apppool_identities[1]", "got \"Root\"");
  doc = config_test::driver();
  doc["allowed_apppool_identities"] = node_list{};
  BOOST_TEST(decode(doc).allowed_apppool_identities.empty());  // nothing allowed
  doc = config_test::driver();
  doc["allowed_target_websites"] = node_list{"a", 1};
  decode_fails(doc, "allowed_target_websites[1]", "expected a string, got the number 1");
  doc = config_test::driver();
  doc["allowed_apppool_users"] = "www-data";
  decode_fails(doc, "allowed_apppool_users", "expected a list of strings");
  doc = config_test::driver();
  doc["procdumps"] = node_list{config_test::node_map{{"accept_eula", true}},
                               config_test::node_map{{"accept_eula", true}}};
  decode_fails(doc, "procdump", "at most 1 procdump blocks");
  doc["procdumps"] = node_list{config_test::node_map{{"accept_eula", true}}};
  const cfg::driver_config config = decode(doc);
  BOOST_TEST(config.procdump.value().accept_eula);
  BOOST_TEST(config.procdump->binary_path == "/usr/bin/gcore");
  doc["procdumps"] = node_list{config_test::node_map{{"binary_path", ""}}};
  decode_fails(doc, "procdump[0].binary_path", "must not be empty");
}

BOOST_AUTO_TEST_CASE(paths) {
  node doc = config_test::driver();
  doc["nginx_path"] = "";
  decode_fails(doc, "nginx_path", "must not be empty");
  doc = config_test::driver();
  doc["data_dir"] = "relative/dir";
  decode_fails(doc, "data_dir", "must be an absolute path");
  doc = config_test::driver();
  doc["placeholder_app_path"] = "";
  BOOST_TEST(decode(doc).placeholder_app_path == "");  // disables the placeholder copy
  doc = config_test::driver();
  doc["enabled"] = "true";
  decode_fails(doc, "enabled", "expected a bool, got the string \"true\"");
}

BOOST_AUTO_TEST_CASE(allowed_host_paths_are_absolute_folders) {
  node doc = config_test::driver();
  BOOST_TEST(decode(doc).allowed_host_paths.empty());
  doc["allowed_host_paths"] = node_list{"/srv/www/", "//data//sites"};
  const auto paths = decode(doc).allowed_host_paths;
  BOOST_TEST_REQUIRE(paths.size() == 2u);
  BOOST_TEST(paths[0] == "/srv/www");
  BOOST_TEST(paths[1] == "/data/sites");
  doc["allowed_host_paths"] = node_list{"/srv/www", "www"};
  decode_fails(doc, "allowed_host_paths[1]", "must be an absolute path");
  doc["allowed_host_paths"] = node_list{"C:\\inetpub\\wwwroot"};
  decode_fails(doc, "allowed_host_paths[0]", "must be an absolute path");
  doc["allowed_host_paths"] = node_list{"/srv/../etc"};
  decode_fails(doc, "allowed_host_paths[0]", "must not contain");
  doc["allowed_host_paths"] = node_list{"/"};
  decode_fails(doc, "allowed_host_paths[0]", "every folder of the host");
  doc["allowed_host_paths"] = "/srv/www";
  decode_fails(doc, "allowed_host_paths", "expected a list of strings");
}

BOOST_AUTO_TEST_CASE(data_dir_defaults) {
  BOOST_TEST(cfg::default_data_dir(0, "/scratch") == "/var/lib/nomad_iis");
  BOOST_TEST(cfg::default_data_dir(1000, "") == "/tmp/nomad_iis-1000");
  BOOST_TEST(cfg::default_data_dir(1000, "/scratch/tmp/") == "/scratch/tmp/nomad_iis-1000");
  BOOST_TEST(cfg::default_data_dir(1000, "relative") == "/tmp/nomad_iis-1000");
  BOOST_TEST(cfg::default_data_dir(1000, "/") == "/nomad_iis-1000");

  cfg::driver_config config;
  config.data_dir = "/srv/x";
  BOOST_TEST(config.effective_data_dir() == "/srv/x");
  config.data_dir.clear();
  scoped_env env("TMPDIR", "/scratch");
  BOOST_TEST(config.effective_data_dir() ==
             cfg::default_data_dir(static_cast<std::uint32_t>(geteuid()), "/scratch"));
}

BOOST_AUTO_TEST_CASE(every_bad_option_is_named_in_one_message) {
  node doc = config_test::driver();
  doc["fingerprint_interval"] = "1s";
  doc["data_dir"] = "relative/dir";
  doc["allowed_host_paths"] = node_list{"/", "/srv/ok", "rel"};
  doc["screenshot_concurrency"] = 0;
  const std::string message = decode_fails(doc, "", "5 problems: ");
  for (const char* expected :
       {"fingerprint_interval: must be at least 10s", "data_dir: \"relative/dir\" must be",
        "allowed_host_paths[0]: \"/\" would allow", "allowed_host_paths[2]: \"rel\" must be",
        "screenshot_concurrency: must be between 1 and 64, got 0"}) {
    BOOST_TEST_INFO("missing: " << expected);
    BOOST_TEST(message.find(expected) != std::string::npos);
  }
}

node website(const std::string& name, node_list bindings, node root = nullptr) {
  return config_test::node_map{
      {"bindings", std::move(bindings)}, {"name", name}, {"physical_path", std::move(root)}};
}

BOOST_AUTO_TEST_CASE(website_blocks_declare_the_node_websites) {
  node doc = config_test::driver();
  node https = config_test::binding("https", "8443");
  https["certificates"] = node_list{config_test::node_map{{"cert_file", "/etc/ssl/a.crt"},
                                                          {"key_file", "/etc/ssl/a.key"},
                                                          {"password", nullptr},
                                                          {"pfx_file", nullptr},
                                                          {"thumbprint", nullptr},
                                                          {"use_self_signed", nullptr}}};
  doc["websites"] = node_list{
      website("shop", node_list{config_test::binding("http", "08080"), https}, "/srv/www/shop/"),
      website("api", node_list{config_test::binding("http", "9090")})};
  const auto config = decode(doc);
  BOOST_TEST_REQUIRE(config.websites.size() == 2u);
  const auto* shop = config.find_website("shop");
  BOOST_TEST_REQUIRE(shop != nullptr);
  BOOST_TEST(shop->physical_path.value() == "/srv/www/shop");
  BOOST_TEST_REQUIRE(shop->bindings.size() == 2u);
  BOOST_TEST(shop->bindings[0].port == "8080");
  BOOST_TEST(shop->bindings[1].certificate->cert_file.value() == "/etc/ssl/a.crt");
  BOOST_TEST(!config.find_website("api")->physical_path);
  BOOST_TEST(config.find_website("other") == nullptr);
}

BOOST_AUTO_TEST_CASE(website_blocks_refuse_what_a_node_cannot_serve) {
  node doc = config_test::driver();
  doc["websites"] = node_list{website("a b", node_list{config_test::binding("http", "80")})};
  decode_fails(doc, "website[0].name", "must be 1-64 characters");
  doc["websites"] = node_list{website("shop", node_list{config_test::binding("http", "web")})};
  decode_fails(doc, "website[0].binding[0].port", "must be a static port");
  doc["websites"] = node_list{website("shop", node_list{})};
  decode_fails(doc, "website[0].binding", "at least 1");
  doc["websites"] = node_list{website("shop", node_list{config_test::binding("https", "443")})};
  decode_fails(doc, "website[0].binding[0].certificate", "an https binding needs one");
  doc["websites"] =
      node_list{website("shop", node_list{config_test::binding("http", "80")}, "relative")};
  decode_fails(doc, "website[0].physical_path", "must be an absolute path");
  doc["websites"] = node_list{website("shop", node_list{config_test::binding("http", "80")}),
                              website("shop", node_list{config_test::binding("http", "81")})};
  decode_fails(doc, "website[1].name", "declared twice");
}

BOOST_AUTO_TEST_SUITE_END()
