// The schema trees follow Nomad's hclspec rules (PROTOCOL.md §7.4) and match
// both the original's HCL surface and the golden bytes.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <msgpack.hpp>
#include <set>

#include "config/schema.hpp"
#include "test_support.hpp"

namespace cfg = nomad_iis::config;
using cfg::spec;

namespace {

/// Checks the authoring rules on every node, with a readable location.
void check_rules(const spec& node, const std::string& where) {
  BOOST_TEST_INFO("at " << where);
  switch (node.what) {
    case spec::kind::object:
      BOOST_TEST(!node.attributes.empty());
      for (const auto& [key, child] : node.attributes) {
        BOOST_TEST_REQUIRE(child != nullptr);
        if (child->what == spec::kind::attr) {
          BOOST_TEST_INFO("at " << where << "." << key);
          BOOST_TEST(child->name == key);
        }
        check_rules(*child, where + "." + key);
      }
      break;
    case spec::kind::attr:
      BOOST_TEST(!node.name.empty());
      BOOST_TEST(!node.type.empty());
      break;
    case spec::kind::block:
    case spec::kind::block_list:
      BOOST_TEST(!node.name.empty());
      BOOST_TEST_REQUIRE(node.nested != nullptr);
      BOOST_TEST((node.nested->what == spec::kind::object));
      BOOST_TEST((node.max_items == 0 || node.max_items >= node.min_items));
      check_rules(*node.nested, where + "{" + node.name + "}");
      break;
    case spec::kind::defaulted:
      BOOST_TEST_REQUIRE(node.nested != nullptr);
      BOOST_TEST_REQUIRE(node.default_value != nullptr);
      BOOST_TEST((node.nested->what == spec::kind::attr));
      BOOST_TEST(!node.nested->name.empty());  // "Missing name in attribute spec" otherwise
      BOOST_TEST(!node.nested->required);
      BOOST_TEST((node.default_value->what == spec::kind::literal));
      BOOST_TEST(!node.default_value->value.empty());
      break;
    case spec::kind::literal:
      BOOST_TEST(!node.value.empty());
      break;
  }
}

const spec& child(const spec& object, const std::string& key) {
  auto it = object.attributes.find(key);
  BOOST_TEST_REQUIRE((it != object.attributes.end()), "missing attribute " << key);
  return *it->second;
}

/// Walks a schema object and a msgpack map side by side: the map must hold
/// exactly the object's keys (Nomad sends every attribute), block lists recurse.
void check_shape(const spec& object, const msgpack::object& map, const std::string& where) {
  BOOST_TEST_INFO("at " << where);
  BOOST_TEST_REQUIRE((map.type == msgpack::type::MAP));
  std::set<std::string> sent;
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& kv = map.via.map.ptr[i];
    const std::string key = kv.key.as<std::string>();
    sent.insert(key);
    const spec& node = child(object, key);
    if (node.what == spec::kind::block_list) {
      BOOST_TEST_REQUIRE((kv.val.type == msgpack::type::ARRAY));
      for (std::uint32_t j = 0; j < kv.val.via.array.size; ++j) {
        check_shape(*node.nested, kv.val.via.array.ptr[j],
                    where + "." + node.name + "[" + std::to_string(j) + "]");
      }
    }
  }
  std::set<std::string> expected;
  for (const auto& [key, node] : object.attributes) expected.insert(key);
  BOOST_TEST_INFO("at " << where);
  BOOST_TEST(sent == expected, boost::test_tools::per_element());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(schema)

BOOST_AUTO_TEST_CASE(follows_the_hclspec_authoring_rules) {
  check_rules(*cfg::task_config_schema(), "task");
  check_rules(*cfg::driver_config_schema(), "driver");
}

BOOST_AUTO_TEST_CASE(task_schema_matches_the_original_surface) {
  const spec& root = *cfg::task_config_schema();
  BOOST_TEST(child(root, "applicationPools").name == "applicationPool");
  BOOST_TEST(child(root, "application_pools").name == "application_pool");
  const spec& applications = child(root, "applications");
  BOOST_TEST(applications.name == "application");
  BOOST_TEST(applications.min_items == 1u);
  const spec& bindings = child(root, "bindings");
  BOOST_TEST(bindings.name == "binding");
  BOOST_TEST(bindings.max_items == 64u);
  BOOST_TEST(child(root, "service_auto_start_providers").name == "service_auto_start_provider");
  BOOST_TEST(child(root, "permit_iusr").default_value->value == "true");
  BOOST_TEST(child(root, "target_website").type == "string");

  const spec& pool = *child(root, "application_pools").nested;
  BOOST_TEST(child(pool, "name").default_value->value == "\"default\"");
  BOOST_TEST(child(pool, "identity").default_value->value == "\"ApplicationPoolIdentity\"");
  BOOST_TEST(child(pool, "queue_length").type == "number");
  BOOST_TEST(child(pool, "idle_timeout").type == "string");
  BOOST_TEST(child(pool, "extensions").name == "extension");
  BOOST_TEST(child(pool, "cpu_limit").type == "number");
  BOOST_TEST(child(pool, "private_memory_limit").type == "number");
  BOOST_TEST(pool.attributes.size() == 18u);

  const spec& app = *applications.nested;
  BOOST_TEST(child(app, "application_pool").default_value->value == "\"default\"");
  BOOST_TEST(child(app, "path").required);
  BOOST_TEST(!child(app, "alias").required);
  const spec& vdir = *child(app, "virtual_directories").nested;
  BOOST_TEST(child(app, "virtual_directories").name == "virtual_directory");
  BOOST_TEST(child(vdir, "alias").required);
  BOOST_TEST(child(vdir, "path").required);
  const spec& ext = *child(vdir, "extensions").nested;
  BOOST_TEST(child(ext, "name").required);
  BOOST_TEST(child(ext, "value").required);

  const spec& binding = *bindings.nested;
  BOOST_TEST(child(binding, "type").required);
  BOOST_TEST(child(binding, "port").required);
  BOOST_TEST(child(binding, "require_sni").type == "bool");
  const spec& certificates = child(binding, "certificates");
  BOOST_TEST(certificates.name == "certificate");
  BOOST_TEST(certificates.max_items == 1u);
  BOOST_TEST(certificates.nested->attributes.size() == 6u);

  const spec& provider = *child(root, "service_auto_start_providers").nested;
  BOOST_TEST(child(provider, "name").required);
  BOOST_TEST(child(provider, "type").required);
}

BOOST_AUTO_TEST_CASE(driver_schema_defaults) {
  const spec& root = *cfg::driver_config_schema();
  auto default_of = [&](const std::string& key) {
    const spec& node = child(root, key);
    BOOST_TEST_REQUIRE((node.what == spec::kind::defaulted), key);
    return node.default_value->value;
  };
  BOOST_TEST(default_of("enabled") == "true");
  BOOST_TEST(default_of("fingerprint_interval") == "\"30s\"");
  BOOST_TEST(default_of("directory_security") == "true");
  BOOST_TEST(default_of("allowed_apppool_identities") == "[\"ApplicationPoolIdentity\"]");
  BOOST_TEST(child(root, "allowed_apppool_identities").nested->type == "list(string)");
  BOOST_TEST(child(root, "allowed_target_websites").type == "list(string)");
  BOOST_TEST(default_of("placeholder_app_path") == "\"/var/www/html\"");
  BOOST_TEST(default_of("nginx_path") == "\"/usr/sbin/nginx\"");
  BOOST_TEST(default_of("rapid_fail_interval") == "\"5m\"");
  BOOST_TEST(default_of("request_header_timeout") == "\"10s\"");
  BOOST_TEST(default_of("upload_max_bytes") == "4294967296");
  BOOST_TEST(default_of("zip_max_uncompressed_bytes") == "8589934592");
  const spec& procdumps = child(root, "procdumps");
  BOOST_TEST(procdumps.name == "procdump");
  BOOST_TEST(procdumps.max_items == 1u);
  BOOST_TEST(child(*procdumps.nested, "binary_path").default_value->value == "\"/usr/bin/gcore\"");
  BOOST_TEST(child(*procdumps.nested, "accept_eula").default_value->value == "false");
}

BOOST_AUTO_TEST_CASE(golden_bytes_have_exactly_the_schema_keys) {
  for (const char* name :
       {"task_static_sample", "task_aspnet_multi", "task_deprecated_pool", "task_max_features"}) {
    const std::string bytes = config_test::read_data_file(std::string(name) + ".msgpack");
    const auto handle = msgpack::unpack(bytes.data(), bytes.size());
    check_shape(*cfg::task_config_schema(), handle.get(), name);
  }
  for (const char* name : {"driver_empty", "driver_full", "driver_docs_example"}) {
    const std::string bytes = config_test::read_data_file(std::string(name) + ".msgpack");
    const auto handle = msgpack::unpack(bytes.data(), bytes.size());
    check_shape(*cfg::driver_config_schema(), handle.get(), name);
  }
}

BOOST_AUTO_TEST_CASE(test_shapes_match_the_schema) {
  // The builders in test_support must send what Nomad sends, or the
  // decode tests would test something else.
  config_test::node doc = config_test::task();
  doc["application_pools"].list().push_back(config_test::pool("x"));
  doc["applications"][0]["virtual_directories"].list().push_back(config_test::vdir("a", "b"));
  doc["applications"][0]["extensions"].list().push_back(config_test::extension("a", "b"));
  doc["bindings"][0]["certificates"].list().push_back(config_test::certificate());
  doc["service_auto_start_providers"].list().push_back(config_test::provider("a", "b"));
  std::string bytes = config_test::pack(doc);
  auto handle = msgpack::unpack(bytes.data(), bytes.size());
  check_shape(*cfg::task_config_schema(), handle.get(), "task()");
  bytes = config_test::pack(config_test::driver());
  handle = msgpack::unpack(bytes.data(), bytes.size());
  check_shape(*cfg::driver_config_schema(), handle.get(), "driver()");
}

BOOST_AUTO_TEST_SUITE_END()
