// validate(): nomad-iis's cross-field rules and the node's allow-lists.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "config/task_config.hpp"
#include "test_support.hpp"

namespace cfg = nomad_iis::config;
using config_test::expect_config_error;

namespace {

/// The minimal valid config (one root app, one http binding), decoded.
cfg::task_config base() {
  return cfg::decode_task_config(config_test::pack(config_test::task()));
}

cfg::application_pool make_pool(const std::string& name, const std::string& declared_at) {
  cfg::application_pool pool;
  pool.name = name;
  pool.declared_at = declared_at;
  return pool;
}

cfg::application make_app(const std::string& alias, const std::string& pool = "default") {
  cfg::application app;
  app.alias = alias;
  app.path = "local/" + alias;
  app.application_pool = pool;
  return app;
}

cfg::binding https_binding(cfg::certificate cert, const std::string& port = "https") {
  cfg::binding b;
  b.type = cfg::binding_type::https;
  b.port = port;
  b.certificate = std::move(cert);
  return b;
}

cfg::certificate pem() {
  cfg::certificate cert;
  cert.cert_file = "secrets/cert.pem";
  cert.key_file = "secrets/key.pem";
  return cert;
}

std::string validate_fails(cfg::task_config config, const std::string& path,
                           const std::string& needle,
                           const cfg::driver_config& driver = cfg::driver_config{}) {
  return expect_config_error([&] { cfg::validate(config, driver); }, path, needle);
}

void validate_ok(cfg::task_config& config, const cfg::driver_config& driver = {}) {
  BOOST_CHECK_NO_THROW(cfg::validate(config, driver));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(task_validate)

BOOST_AUTO_TEST_CASE(default_pool_is_added_only_when_used) {
  cfg::task_config config = base();
  config.application_pools.push_back(make_pool("api", "application_pool[0]"));
  config.applications[0].application_pool = "api";
  validate_ok(config);
  BOOST_TEST_REQUIRE(config.application_pools.size() == 1u);
  BOOST_TEST(config.application_pools[0].name == "api");

  config = base();
  config.application_pools.push_back(make_pool("api", "application_pool[0]"));
  validate_ok(config);
  BOOST_TEST_REQUIRE(config.application_pools.size() == 1u);  // api unused: dropped
  BOOST_TEST(config.application_pools[0].name == "default");
  BOOST_TEST(config.application_pools[0].declared_at == "");
}

BOOST_AUTO_TEST_CASE(validate_twice_is_harmless) {
  cfg::task_config config = base();
  validate_ok(config);
  validate_ok(config);
  BOOST_TEST(config.application_pools.size() == 1u);
}

BOOST_AUTO_TEST_CASE(failed_validation_leaves_the_config_alone) {
  cfg::task_config config = base();
  config.bindings[0].port = "0";
  BOOST_CHECK_THROW(cfg::validate(config, {}), cfg::config_error);
  BOOST_TEST(config.application_pools.empty());
}

BOOST_AUTO_TEST_CASE(pool_names) {
  cfg::task_config config = base();
  config.application_pools.push_back(make_pool("ninechars", "application_pool[0]"));
  validate_fails(config, "application_pool[0].name", "\"ninechars\" is longer than 8 characters");

  config = base();
  config.application_pools.push_back(make_pool("appA", "applicationPool[0]"));
  config.application_pools.push_back(make_pool("appA", "application_pool[0]"));
  const std::string message = validate_fails(config, "application_pool[0].name",
                                             "\"appA\" is already used by applicationPool[0]");

  config = base();
  config.application_pools.push_back(make_pool("default", "application_pool[0]"));
  config.application_pools.push_back(make_pool("default", "application_pool[1]"));
  validate_fails(config, "application_pool[1].name", "already used");

  config = base();
  config.application_pools.push_back(make_pool("a b", "application_pool[0]"));
  validate_fails(config, "application_pool[0].name", "may only contain");
  config.application_pools[0].name = "";
  validate_fails(config, "application_pool[0].name", "must not be empty");
  config.application_pools[0].name = "..";
  validate_fails(config, "application_pool[0].name", "must not start with '.'");
  config.application_pools[0].name = "app_1-x";
  validate_ok(config);
}

BOOST_AUTO_TEST_CASE(pool_references) {
  cfg::task_config config = base();
  config.application_pools.push_back(make_pool("api", "application_pool[0]"));
  config.applications.push_back(make_app("shop", "shopp"));
  const std::string message = validate_fails(config, "application[1].application_pool",
                                             "no application_pool is named \"shopp\"");
  BOOST_TEST(message.find("\"default\", \"api\"") != std::string::npos);
  config.applications[1].application_pool = " ";
  validate_fails(config, "application[1].application_pool", "must not be empty");
}

BOOST_AUTO_TEST_CASE(application_aliases) {
  cfg::task_config config = base();
  config.applications.push_back(make_app("shop"));
  config.applications.push_back(make_app("shop"));
  validate_fails(config, "application[2].alias", "\"shop\" is already used by application[1]");

  config = base();
  config.applications.push_back(make_app(""));
  validate_fails(config, "application[1].alias", "a second root application");

  for (const char* bad : {"a b", "a;b", "a{b", "a%20", "a?b", "a#b", "a\\b", "a\"b", "a'b", "a$b",
                          "a..b/../c", "x/./y", "a//b"}) {
    config = base();
    config.applications.push_back(make_app(bad));
    BOOST_TEST_INFO("alias " << bad);
    validate_fails(config, "application[1].alias", bad[0] == 'x' || bad[3] == '/' ? "segment" : "");
  }
  config = base();
  config.applications.push_back(make_app("api/v1.2/caf\xc3\xa9-(beta)_~!"));
  validate_ok(config);
}

BOOST_AUTO_TEST_CASE(virtual_directory_aliases) {
  cfg::task_config config = base();
  cfg::virtual_directory vdir;
  vdir.alias = "img";
  vdir.path = "local/img";
  config.applications[0].virtual_directories = {vdir, vdir};
  validate_fails(config, "application[0].virtual_directory[1].alias",
                 "\"img\" is already used by application[0].virtual_directory[0]");
  config.applications[0].virtual_directories[1].alias = "../etc";
  validate_fails(config, "application[0].virtual_directory[1].alias", "\"..\" segment");
  config.applications[0].virtual_directories[1].alias = "img2";
  validate_ok(config);
}

BOOST_AUTO_TEST_CASE(identities_against_the_allow_list) {
  cfg::task_config config = base();
  config.application_pools.push_back(make_pool("default", "application_pool[0]"));
  config.application_pools[0].identity = "LocalSystem";
  const std::string message = validate_fails(
      config, "application_pool[0].identity",
      "\"LocalSystem\" is not allowed on this node (allowed: ApplicationPoolIdentity)");

  cfg::driver_config driver;
  driver.allowed_apppool_identities = {};
  validate_fails(config, "application_pool[0].identity", "no identities are allowed", driver);
  driver.allowed_apppool_identities = {"LocalSystem"};
  validate_ok(config, driver);

  // The implicit default pool is held to the same list.
  config = base();
  driver.allowed_apppool_identities = {"NetworkService"};
  validate_fails(config, "application_pool(implicit default).identity", "not allowed", driver);
}

BOOST_AUTO_TEST_CASE(specific_user) {
  cfg::task_config config = base();
  config.application_pools.push_back(make_pool("default", "application_pool[0]"));
  config.application_pools[0].identity = "SpecificUser";
  config.application_pools[0].password = "hunter2";
  cfg::driver_config driver;
  driver.allowed_apppool_identities = {"SpecificUser"};
  validate_fails(config, "application_pool[0].username",
                 "is required when identity is \"SpecificUser\"", driver);
  config.application_pools[0].username = "bob";
  std::string message =
      validate_fails(config, "application_pool[0].username",
                     "\"bob\" is not allowed on this node (no users are allowed)", driver);
  BOOST_TEST(message.find("hunter2") == std::string::npos);
  driver.allowed_apppool_users = {"alice", "carol"};
  message =
      validate_fails(config, "application_pool[0].username", "(allowed: alice, carol)", driver);
  BOOST_TEST(message.find("hunter2") == std::string::npos);
  driver.allowed_apppool_users = {"alice", "bob"};
  validate_ok(config, driver);
  driver.allowed_apppool_users = {"*"};
  validate_ok(config, driver);
}

BOOST_AUTO_TEST_CASE(unused_pools_skip_identity_checks) {
  cfg::task_config config = base();
  config.application_pools.push_back(make_pool("other", "application_pool[0]"));
  config.application_pools[0].identity = "LocalSystem";
  validate_ok(config);
  BOOST_TEST(config.application_pools.size() == 1u);
}

BOOST_AUTO_TEST_CASE(target_website) {
  cfg::task_config config = base();
  config.applications[0].alias = "shop";
  config.target_website = "Default Web Site";
  validate_fails(config, "target_website", "\"Default Web Site\" is not allowed on this node");
  cfg::driver_config driver;
  driver.allowed_target_websites = {"Default Web Site"};
  validate_ok(config, driver);
  driver.allowed_target_websites = {"*"};
  validate_ok(config, driver);
  config.target_website = "nomad-1234-app";
  validate_fails(config, "target_website", "another nomad task", driver);
  config.target_website = "Default Web Site";
  config.applications[0].alias = "";
  validate_fails(config, "application[0].alias", "root application", driver);
}

BOOST_AUTO_TEST_CASE(binding_ports) {
  cfg::task_config config = base();
  config.bindings[0].port = "80";
  const std::string message =
      validate_fails(config, "binding[0].port", "static port \"80\" needs a hostname");
  config.bindings[0].hostname = "example.com";
  validate_ok(config);
  for (const char* bad : {"0", "65536", "99999999999999999999", "-1"}) {
    config = base();
    config.bindings[0].port = bad;
    config.bindings[0].hostname = "example.com";
    BOOST_TEST_INFO("port " << bad);
    validate_fails(config, "binding[0].port", "must be between 1 and 65535");
  }
  config = base();
  config.bindings[0].port = "http label";
  validate_fails(config, "binding[0].port", "neither a port number nor a port label");
  config.bindings[0].port = "my-db_1";
  validate_ok(config);
  config = base();
  config.bindings[0].port = "65535";
  config.bindings[0].hostname = "example.com";
  validate_ok(config);
  config.bindings[0].port = "000443";
  validate_ok(config);
  BOOST_TEST(config.bindings[0].port == "443");  // canonical form for the planner
}

BOOST_AUTO_TEST_CASE(binding_hostnames_and_addresses) {
  for (const char* good : {"example.com", "*.example.com", "localhost", "a-b.c_d.example"}) {
    cfg::task_config config = base();
    config.bindings[0].hostname = good;
    BOOST_TEST_INFO(good);
    validate_ok(config);
  }
  for (const char* bad : {"exa mple.com", "example.com;", "*", "a..b", ".example.com",
                          "example.com.", "ex{ample}", "*.*.com"}) {
    cfg::task_config config = base();
    config.bindings[0].hostname = bad;
    BOOST_TEST_INFO(bad);
    validate_fails(config, "binding[0].hostname", "is not a host name");
  }
  for (const char* good : {"*", "127.0.0.1", "::1", "[::1]", "fe80::1"}) {
    cfg::task_config config = base();
    config.bindings[0].ip_address = good;
    BOOST_TEST_INFO(good);
    validate_ok(config);
  }
  for (const char* bad : {"localhost", "1.2.3.4.5", "256.1.1.1", "[127.0.0.1]", "::1]"}) {
    cfg::task_config config = base();
    config.bindings[0].ip_address = bad;
    BOOST_TEST_INFO(bad);
    validate_fails(config, "binding[0].ip_address", "is not an IP address");
  }
}

BOOST_AUTO_TEST_CASE(duplicate_bindings) {
  cfg::task_config config = base();
  config.bindings.push_back(config.bindings[0]);
  validate_fails(config, "binding[1]", "same ip_address, port and hostname as binding[0]");
  config.bindings[1].hostname = "other.example.com";
  validate_ok(config);
  config = base();
  config.bindings[0].port = "0080";
  config.bindings[0].hostname = "a.example";
  config.bindings.push_back(config.bindings[0]);
  config.bindings[1].port = "80";
  config.bindings[1].ip_address = "*";
  validate_fails(config, "binding[1]", "same ip_address");
}

BOOST_AUTO_TEST_CASE(https_certificates) {
  cfg::task_config config = base();
  config.bindings[0].type = cfg::binding_type::https;
  validate_fails(config, "binding[0].certificate", "an https binding needs a certificate block");

  config.bindings = {https_binding(pem())};
  validate_ok(config);

  cfg::certificate cert;
  cert.thumbprint = "005ce633b71c48f2345b533fd8e259f154e45ed6";
  config.bindings = {https_binding(cert)};
  validate_fails(config, "binding[0].certificate[0].thumbprint", "use pem files");

  cert = {};
  cert.cert_file = "c.pem";
  config.bindings = {https_binding(cert)};
  validate_fails(config, "binding[0].certificate[0].key_file", "must be given together");
  cert = {};
  cert.key_file = "k.pem";
  config.bindings = {https_binding(cert)};
  validate_fails(config, "binding[0].certificate[0].cert_file", "must be given together");

  cert = pem();
  cert.pfx_file = "c.pfx";
  config.bindings = {https_binding(cert)};
  validate_fails(config, "binding[0].certificate[0]", "got pfx_file, cert_file + key_file");
  cert = {};
  cert.pfx_file = "c.pfx";
  cert.use_self_signed = true;
  config.bindings = {https_binding(cert)};
  validate_fails(config, "binding[0].certificate[0]", "got pfx_file, use_self_signed");
  config.bindings = {https_binding(cfg::certificate{})};
  validate_fails(config, "binding[0].certificate[0]", "got none");

  cert = {};
  cert.pfx_file = "c.pfx";
  cert.password = "hunter2";
  config.bindings = {https_binding(cert)};
  validate_ok(config);
  cert = {};
  cert.use_self_signed = true;
  config.bindings = {https_binding(cert)};
  validate_ok(config);
}

BOOST_AUTO_TEST_CASE(certificate_on_http_binding) {
  cfg::task_config config = base();
  config.bindings[0].certificate = pem();
  validate_fails(config, "binding[0].certificate", "only https bindings take a certificate");
}

BOOST_AUTO_TEST_CASE(require_sni) {
  cfg::task_config config = base();
  config.bindings = {https_binding(pem())};
  config.bindings[0].require_sni = true;
  validate_fails(config, "binding[0].require_sni", "needs a hostname");
  config.bindings[0].hostname = "example.com";
  validate_ok(config);
  config = base();
  config.bindings[0].require_sni = true;  // http: no TLS, ignored as in the original
  validate_ok(config);
}

BOOST_AUTO_TEST_CASE(service_auto_start_providers) {
  cfg::task_config config = base();
  config.service_auto_start_providers = {{"warm", "A, B"}, {"warm", "C, D"}};
  validate_fails(config, "service_auto_start_provider[1].name", "already used");
}

BOOST_AUTO_TEST_CASE(decoded_then_validated_paths) {
  // The brief's examples end to end: bytes in, message out.
  config_test::node doc = config_test::task();
  doc["application_pools"].list().push_back(config_test::pool("toolongnm"));
  doc["applications"][0]["application_pool"] = "toolongnm";
  cfg::task_config config = cfg::decode_task_config(config_test::pack(doc));
  validate_fails(config, "application_pool[0].name", "longer than 8");

  doc = config_test::task();
  config_test::node cert = config_test::certificate();
  cert["pfx_file"] = "a.pfx";
  cert["use_self_signed"] = true;
  doc["bindings"][0]["type"] = "https";
  doc["bindings"][0]["certificates"].list().push_back(cert);
  config = cfg::decode_task_config(config_test::pack(doc));
  validate_fails(config, "binding[0].certificate[0]", "exactly one of");
}

BOOST_AUTO_TEST_CASE(every_broken_rule_is_named_in_one_message) {
  cfg::task_config config = base();
  config.application_pools = {make_pool("api", "application_pool[0]"),
                              make_pool("api", "application_pool[1]")};
  config.applications.push_back(make_app("x", "missing"));
  config.applications.push_back(make_app("x"));
  cfg::binding sni = https_binding(pem());
  sni.require_sni = true;
  config.bindings.push_back(sni);
  cfg::binding no_cert = https_binding(pem(), "other");
  no_cert.certificate.reset();
  config.bindings.push_back(no_cert);
  const auto before = config.application_pools.size();
  const std::string message = validate_fails(config, "", "5 problems: ");
  for (const char* expected :
       {"application_pool[1].name: \"api\" is already used by application_pool[0]",
        "application[1].application_pool: no application_pool is named \"missing\"",
        "application[2].alias: \"x\" is already used by application[1]",
        "binding[1].require_sni: needs a hostname",
        "binding[2].certificate: an https binding needs a certificate block"}) {
    BOOST_TEST_INFO("missing: " << expected);
    BOOST_TEST(message.find(expected) != std::string::npos);
  }
  // A failed validation leaves the config as it was.
  BOOST_TEST(config.application_pools.size() == before);
}

BOOST_AUTO_TEST_SUITE_END()
