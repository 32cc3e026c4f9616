// decode_task_config on hand-built msgpack: wrong types at every level,
// required values sent as nil, enums, durations, and the tolerance rules
// (key order, unknown keys, missing keys).

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "config/task_config.hpp"
#include "test_support.hpp"

namespace cfg = nomad_iis::config;
using config_test::expect_config_error;
using config_test::node;
using config_test::node_list;
using config_test::node_map;

namespace {

cfg::task_config decode(const node& doc) {
  return cfg::decode_task_config(config_test::pack(doc));
}

/// Expects decoding doc to fail at path with a message containing needle.
std::string decode_fails(const node& doc, const std::string& path, const std::string& needle) {
  return expect_config_error([&] { decode(doc); }, path, needle);
}

node with_pool(node pool) {
  node doc = config_test::task();
  doc["application_pools"].list().push_back(std::move(pool));
  return doc;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(task_decode)

BOOST_AUTO_TEST_CASE(minimal_config) {
  const cfg::task_config config = decode(config_test::task());
  BOOST_TEST(config.applications.size() == 1u);
  BOOST_TEST(config.bindings.size() == 1u);
}

BOOST_AUTO_TEST_CASE(keys_in_any_order_and_unknown_keys_are_ignored) {
  node doc = config_test::task();
  auto& entries = std::get<node_map>(doc.value);
  std::reverse(entries.begin(), entries.end());
  doc["some_future_option"] = node_map{{"deep", node_list{1, "x", nullptr}}};
  doc["applications"][0]["future"] = 3.5;
  const cfg::task_config config = decode(doc);
  BOOST_TEST(config.applications.at(0).path == "local");
}

BOOST_AUTO_TEST_CASE(missing_keys_read_as_unset) {
  node doc = config_test::task();
  doc.erase("permit_iusr");
  doc.erase("application_pools");
  doc.erase("bindings");
  doc["applications"][0].erase("application_pool");
  const cfg::task_config config = decode(doc);
  BOOST_TEST(config.permit_iusr);
  BOOST_TEST(config.applications.at(0).application_pool == "default");
  BOOST_TEST(config.bindings.empty());
}

BOOST_AUTO_TEST_CASE(nil_block_lists_read_as_empty) {
  node doc = config_test::task();
  doc["application_pools"] = nullptr;
  doc["service_auto_start_providers"] = nullptr;
  BOOST_TEST(decode(doc).application_pools.empty());
}

BOOST_AUTO_TEST_CASE(string_encodings) {
  node doc = config_test::task();
  doc["applications"][0]["path"] = config_test::str8("local/str8");
  doc["applications"][0]["alias"] = config_test::str16("/app");
  doc["bindings"][0]["port"] = config_test::str32("httplabel");
  doc["target_website"] = config_test::str8(std::string(300, 'w').substr(0, 200));
  const cfg::task_config config = decode(doc);
  BOOST_TEST(config.applications[0].path == "local/str8");
  BOOST_TEST(config.applications[0].alias == "app");
  BOOST_TEST(config.bindings[0].port == "httplabel");
  BOOST_TEST(config.target_website->size() == 200u);
}

BOOST_AUTO_TEST_CASE(alias_slashes_are_trimmed) {
  node doc = config_test::task();
  doc["applications"][0]["alias"] = "//shop/";
  doc["applications"][0]["virtual_directories"].list().push_back(config_test::vdir("/img/", "x"));
  const cfg::task_config config = decode(doc);
  BOOST_TEST(config.applications[0].alias == "shop");
  BOOST_TEST(config.applications[0].virtual_directories[0].alias == "img");
  doc["applications"][0]["alias"] = "/";
  BOOST_TEST(decode(doc).applications[0].alias == "");
}

BOOST_AUTO_TEST_CASE(malformed_input) {
  expect_config_error([] { cfg::decode_task_config(""); }, "", "empty");
  expect_config_error([] { cfg::decode_task_config("\xc1"); }, "", "not valid msgpack");
  expect_config_error([] { cfg::decode_task_config("\x92\x01"); }, "", "not valid msgpack");
  expect_config_error([] { cfg::decode_task_config(config_test::pack(config_test::task()) + "x"); },
                      "", "1 bytes after");
  expect_config_error([] { cfg::decode_task_config("\xc0"); }, "",
                      "expected a block (map), got nil");
  expect_config_error([] { cfg::decode_task_config("\x93\x01\x02\x03"); }, "", "got a list of 3");
  // A header claiming 4 billion entries must fail fast, not allocate.
  expect_config_error([] { cfg::decode_task_config(std::string("\xdf\xff\xff\xff\xff", 5)); }, "",
                      "not valid msgpack");
  expect_config_error([] { cfg::decode_task_config(std::string("\xdd\xff\xff\xff\xff", 5)); }, "",
                      "not valid msgpack");
  // Deep nesting is refused.
  expect_config_error([] { cfg::decode_task_config(std::string(200, '\x91') + "\xc0"); }, "",
                      "not valid msgpack");
}

BOOST_AUTO_TEST_CASE(map_keys_must_be_distinct_strings) {
  decode_fails(node_map{{"applications", node_list{}}, {"applications", node_list{}}}, "",
               "the key \"applications\" appears more than once");
  node doc = config_test::task();
  doc["bindings"][0]["type"] = "http";
  auto& entries = std::get<node_map>(doc["bindings"][0].value);
  entries.emplace_back(std::string("\xa5\xa5", 2), 1);
  entries.emplace_back(std::string("\xa5\xa5", 2), 2);
  const std::string message = decode_fails(doc, "binding[0]", "\\xA5\\xA5");
  BOOST_TEST(message.find('\xa5') == std::string::npos);
  // A non-string key: {1: nil}
  expect_config_error([] { cfg::decode_task_config(std::string("\x81\x01\xc0", 3)); }, "",
                      "map key is the number 1");
}

BOOST_AUTO_TEST_CASE(wrong_types_at_the_root) {
  node doc = config_test::task();
  doc["target_website"] = 5;
  decode_fails(doc, "target_website", "expected a string, got the number 5");
  doc = config_test::task();
  doc["permit_iusr"] = "yes";
  decode_fails(doc, "permit_iusr", "expected a bool, got the string \"yes\"");
  doc = config_test::task();
  doc["applications"] = node_map{{"path", "x"}};
  decode_fails(doc, "application", "expected a list of blocks, got a map");
  doc = config_test::task();
  doc["bindings"] = "http";
  decode_fails(doc, "binding", "expected a list of blocks");
  doc = config_test::task();
  doc["application_pools"] = node_list{"default"};
  decode_fails(doc, "application_pool[0]", "expected a block (map), got the string \"default\"");
  doc = config_test::task();
  doc["applicationPools"] = node_list{1};
  decode_fails(doc, "applicationPool[0]", "expected a block (map), got the number 1");
}

BOOST_AUTO_TEST_CASE(wrong_types_in_pools) {
  node pool = config_test::pool();
  pool["name"] = true;
  decode_fails(with_pool(pool), "application_pool[0].name", "got the bool true");
  pool = config_test::pool();
  pool["disable_overlapped_recycle"] = "true";
  decode_fails(with_pool(pool), "application_pool[0].disable_overlapped_recycle",
               "expected a bool");
  pool = config_test::pool();
  pool["queue_length"] = node_list{};
  decode_fails(with_pool(pool), "application_pool[0].queue_length",
               "expected a number, got a list of 0 items");
  pool = config_test::pool();
  pool["queue_length"] = "lots";
  decode_fails(with_pool(pool), "application_pool[0].queue_length",
               "expected a number, got the string \"lots\"");
  pool = config_test::pool();
  pool["extensions"] = node_list{node_map{{"name", "a"}, {"value", 1}}};
  decode_fails(with_pool(pool), "application_pool[0].extension[0].value", "expected a string");
}

BOOST_AUTO_TEST_CASE(second_pool_paths_count_per_spelling) {
  node doc = config_test::task();
  doc["applicationPools"].list().push_back(config_test::pool("a"));
  node bad = config_test::pool("b");
  bad["idle_timeout"] = "abc";
  doc["application_pools"].list().push_back(config_test::pool("c"));
  doc["application_pools"].list().push_back(bad);
  const std::string message = decode_fails(doc, "application_pool[1].idle_timeout",
                                           "\"abc\" is not a duration (use 1h30m or hh:mm:ss)");
  BOOST_TEST(message ==
             "application_pool[1].idle_timeout: \"abc\" is not a duration (use 1h30m or hh:mm:ss)");
  doc = config_test::task();
  doc["applicationPools"].list().push_back(bad);
  decode_fails(doc, "applicationPool[0].idle_timeout", "is not a duration");
}

BOOST_AUTO_TEST_CASE(wrong_types_in_applications) {
  node doc = config_test::task();
  doc["applications"][0]["path"] = 7;
  decode_fails(doc, "application[0].path", "expected a string, got the number 7");
  doc = config_test::task();
  doc["applications"][0]["enable_preload"] = 1;
  decode_fails(doc, "application[0].enable_preload", "expected a bool, got the number 1");
  doc = config_test::task();
  doc["applications"][0]["virtual_directories"] = node_list{node_map{{"alias", 1}, {"path", "x"}}};
  decode_fails(doc, "application[0].virtual_directory[0].alias", "expected a string");
  doc = config_test::task();
  doc["applications"].list().push_back(config_test::application("b"));
  node vdir = config_test::vdir("a", "x");
  vdir["extensions"] =
      node_list{config_test::extension("n", "v"), node_map{{"name", nullptr}, {"value", "v"}}};
  doc["applications"][1]["virtual_directories"].list().push_back(config_test::vdir("z", "z"));
  doc["applications"][1]["virtual_directories"].list().push_back(vdir);
  decode_fails(doc, "application[1].virtual_directory[1].extension[1].name", "is required");
  // Without its value too, the block has two mistakes and the message names both.
  doc["applications"][1]["virtual_directories"][1]["extensions"][1] = node_map{{"name", nullptr}};
  const std::string both = decode_fails(doc, "", "2 problems: ");
  BOOST_TEST(both.find("(1) application[1].virtual_directory[1].extension[1].name: is required") !=
             std::string::npos);
  BOOST_TEST(both.find("(2) application[1].virtual_directory[1].extension[1].value: is required") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_types_in_bindings_and_certificates) {
  node doc = config_test::task();
  doc["bindings"][0]["require_sni"] = "false";
  decode_fails(doc, "binding[0].require_sni", "expected a bool");
  doc = config_test::task();
  doc["bindings"][0]["port"] = 80;
  decode_fails(doc, "binding[0].port", "expected a string, got the number 80");
  doc = config_test::task();
  node cert = config_test::certificate();
  cert["use_self_signed"] = "true";
  doc["bindings"][0]["certificates"].list().push_back(cert);
  decode_fails(doc, "binding[0].certificate[0].use_self_signed", "expected a bool");
  doc = config_test::task();
  cert = config_test::certificate();
  cert["pfx_file"] = node_map{};
  doc["bindings"][0]["certificates"].list().push_back(cert);
  decode_fails(doc, "binding[0].certificate[0].pfx_file", "expected a string, got a map");
}

BOOST_AUTO_TEST_CASE(required_values_sent_as_nil) {
  node doc = config_test::task();
  doc["applications"][0]["path"] = nullptr;
  decode_fails(doc, "application[0].path", "is required");
  doc = config_test::task();
  doc["applications"][0]["path"] = "";
  decode_fails(doc, "application[0].path", "must not be empty");
  doc = config_test::task();
  doc["applications"][0]["virtual_directories"].list().push_back(config_test::vdir("a", "b"));
  doc["applications"][0]["virtual_directories"][0]["path"] = nullptr;
  decode_fails(doc, "application[0].virtual_directory[0].path", "is required");
  doc = config_test::task();
  doc["bindings"][0]["type"] = nullptr;
  decode_fails(doc, "binding[0].type", "is required");
  doc = config_test::task();
  doc["bindings"][0]["port"] = nullptr;
  decode_fails(doc, "binding[0].port", "is required");
  doc = config_test::task();
  doc["service_auto_start_providers"].list().push_back(config_test::provider("p", "t"));
  doc["service_auto_start_providers"][0]["type"] = nullptr;
  decode_fails(doc, "service_auto_start_provider[0].type", "is required");
  doc = config_test::task();
  doc["applications"] = node_list{};
  decode_fails(doc, "application", "at least 1 application block");
  doc = config_test::task();
  doc["applications"][0]["virtual_directories"].list().push_back(config_test::vdir("/", "b"));
  decode_fails(doc, "application[0].virtual_directory[0].alias", "sub-path");
}

BOOST_AUTO_TEST_CASE(block_count_limits) {
  node doc = config_test::task();
  doc["bindings"] = node_list{};
  for (int i = 0; i < 64; ++i) doc["bindings"].list().push_back(config_test::binding("http", "p"));
  BOOST_TEST(decode(doc).bindings.size() == 64u);
  doc["bindings"].list().push_back(config_test::binding("http", "p"));
  decode_fails(doc, "binding", "at most 64 binding blocks are allowed, got 65");
  doc = config_test::task();
  doc["bindings"][0]["certificates"] =
      node_list{config_test::certificate(), config_test::certificate()};
  decode_fails(doc, "binding[0].certificate", "at most 1 certificate blocks are allowed");
}

BOOST_AUTO_TEST_CASE(enum_values) {
  node doc = config_test::task();
  doc["bindings"][0]["type"] = "ftp";
  const std::string message = decode_fails(doc, "binding[0].type", "must be \"http\" or \"https\"");
  BOOST_TEST(message == "binding[0].type: must be \"http\" or \"https\", got \"ftp\"");

  node pool = config_test::pool();
  pool["start_mode"] = "Sometimes";
  decode_fails(with_pool(pool), "application_pool[0].start_mode",
               "must be \"OnDemand\" or \"AlwaysRunning\", got \"Sometimes\"");
  pool = config_test::pool();
  pool["service_unavailable_response"] = "UdpLevel";
  decode_fails(with_pool(pool), "application_pool[0].service_unavailable_response",
               "got \"UdpLevel\"");
  pool = config_test::pool();
  pool["managed_pipeline_mode"] = "Hybrid";
  decode_fails(with_pool(pool), "application_pool[0].managed_pipeline_mode",
               "must be \"Integrated\" or \"Classic\"");
  pool = config_test::pool();
  pool["managed_runtime_version"] = "v5.0";
  decode_fails(with_pool(pool), "application_pool[0].managed_runtime_version",
               "must be one of \"v4.0\", \"v2.0\", \"None\", got \"v5.0\"");
  pool = config_test::pool();
  pool["identity"] = "Administrator";
  decode_fails(with_pool(pool), "application_pool[0].identity",
               "one of \"ApplicationPoolIdentity\", \"LocalSystem\"");
}

BOOST_AUTO_TEST_CASE(enum_case_rules) {
  // Parsed ignoring case by the original (Enum.TryParse): any case, stored canonically.
  node pool = config_test::pool();
  pool["start_mode"] = "alwaysrunning";
  pool["managed_pipeline_mode"] = "CLASSIC";
  pool["service_unavailable_response"] = "tcplevel";
  node doc = with_pool(pool);
  doc["bindings"][0]["type"] = "Http";
  const cfg::task_config config = decode(doc);
  BOOST_TEST((config.application_pools[0].start_mode == cfg::start_mode::always_running));
  BOOST_TEST(config.application_pools[0].managed_pipeline_mode.value() == "Classic");
  BOOST_TEST((config.application_pools[0].service_unavailable_response ==
              cfg::unavailable_response::tcp_level));
  BOOST_TEST((config.bindings[0].type == cfg::binding_type::http));

  // Compared as exact strings by the original: case-sensitive, with a hint.
  pool = config_test::pool();
  pool["identity"] = "networkservice";
  decode_fails(with_pool(pool), "application_pool[0].identity", "(names are case-sensitive)");
  pool = config_test::pool();
  pool["managed_runtime_version"] = "none";
  decode_fails(with_pool(pool), "application_pool[0].managed_runtime_version", "case-sensitive");
  // ... but a blank runtime version was skipped by the original, so it reads as unset.
  pool = config_test::pool();
  pool["managed_runtime_version"] = " ";
  BOOST_TEST(!decode(with_pool(pool)).application_pools[0].managed_runtime_version);
}

BOOST_AUTO_TEST_CASE(durations_in_every_field) {
  for (const char* field :
       {"idle_timeout", "periodic_restart", "start_time_limit", "shutdown_time_limit"}) {
    node pool = config_test::pool();
    pool[field] = "00:01:30";
    const cfg::task_config config = decode(with_pool(pool));
    BOOST_TEST_INFO(field);
    const auto& p = config.application_pools[0];
    const auto value = std::string(field) == "idle_timeout"       ? p.idle_timeout
                       : std::string(field) == "periodic_restart" ? p.periodic_restart
                       : std::string(field) == "start_time_limit" ? p.start_time_limit
                                                                  : p.shutdown_time_limit;
    BOOST_TEST(value.value().count() == 90000);
    pool[field] = "-5m";
    decode_fails(with_pool(pool), std::string("application_pool[0].") + field,
                 "\"-5m\" is not a duration");
    pool[field] = 90;
    decode_fails(with_pool(pool), std::string("application_pool[0].") + field,
                 "expected a string, got the number 90");
  }
}

BOOST_AUTO_TEST_CASE(strings_must_be_clean_utf8) {
  node doc = config_test::task();
  doc["applications"][0]["path"] = std::string("bad\xff", 4);
  const std::string message = decode_fails(doc, "application[0].path", "is not valid UTF-8");
  BOOST_TEST(message.find("\\xFF") != std::string::npos);  // escaped, never raw
  doc = config_test::task();
  doc["applications"][0]["path"] = std::string("a\0b", 3);
  decode_fails(doc, "application[0].path", "control character");
  doc = config_test::task();
  doc["bindings"][0]["hostname"] = "evil.com;\n  root /;";
  decode_fails(doc, "binding[0].hostname", "control character");
  doc = config_test::task();
  doc["applications"][0]["path"] = "wwwroot/\xc3\xa9t\xc3\xa9";  // UTF-8 is fine
  BOOST_TEST(decode(doc).applications[0].path == "wwwroot/\xc3\xa9t\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(passwords_never_appear_in_errors) {
  node pool = config_test::pool();
  pool["password"] = 123456789;
  std::string message = decode_fails(with_pool(pool), "application_pool[0].password",
                                     "expected a string, got a number");
  BOOST_TEST(message.find("123456789") == std::string::npos);
  pool["password"] = std::string("hunter2\xff", 8);
  message = decode_fails(with_pool(pool), "application_pool[0].password", "not valid UTF-8");
  BOOST_TEST(message.find("hunter2") == std::string::npos);
  node doc = config_test::task();
  node cert = config_test::certificate();
  cert["password"] = std::string("hunter2\0", 8);
  doc["bindings"][0]["certificates"].list().push_back(cert);
  message = decode_fails(doc, "binding[0].certificate[0].password", "NUL");
  BOOST_TEST(message.find("hunter2") == std::string::npos);
  // Control characters other than NUL are a password's own business.
  pool["password"] = "tab\there";
  BOOST_TEST(decode(with_pool(pool)).application_pools[0].password.value() == "tab\there");
}

BOOST_AUTO_TEST_CASE(empty_optional_strings_read_as_unset) {
  node doc = config_test::task();
  doc["target_website"] = "";
  doc["bindings"][0]["hostname"] = "";
  doc["bindings"][0]["ip_address"] = "";
  node cert = config_test::certificate();
  cert["thumbprint"] = "";
  cert["pfx_file"] = "";
  doc["bindings"][0]["certificates"].list().push_back(cert);
  const cfg::task_config config = decode(doc);
  BOOST_TEST(!config.target_website);
  BOOST_TEST(!config.bindings[0].hostname);
  BOOST_TEST(!config.bindings[0].ip_address);
  BOOST_TEST(!config.bindings[0].certificate->thumbprint);
  BOOST_TEST(!config.bindings[0].certificate->pfx_file);
}

BOOST_AUTO_TEST_CASE(long_values_are_cut_in_messages) {
  node doc = config_test::task();
  doc["bindings"][0]["type"] = std::string(5000, 'x');
  const std::string message = decode_fails(doc, "binding[0].type", "...");
  BOOST_TEST(message.size() < 300u);
}

BOOST_AUTO_TEST_CASE(pool_limits_keep_iis_ranges) {
  node pool = config_test::pool("api");
  pool["cpu_limit"] = 100001;
  decode_fails(with_pool(pool), "application_pool[0].cpu_limit", "100000");
  pool["cpu_limit"] = -1;
  decode_fails(with_pool(pool), "application_pool[0].cpu_limit", "");
  pool["cpu_limit"] = 25000;
  pool["private_memory_limit"] = std::int64_t{4294967296};
  decode_fails(with_pool(pool), "application_pool[0].private_memory_limit", "4294967295");
  pool["private_memory_limit"] = 512000;
  const auto config = cfg::decode_task_config(config_test::pack(with_pool(pool)));
  BOOST_TEST(config.application_pools.at(0).cpu_limit.value_or(0) == 25000);
  BOOST_TEST(config.application_pools.at(0).private_memory_limit.value_or(0) == 512000);
}

BOOST_AUTO_TEST_CASE(every_bad_field_is_named_in_one_message) {
  node doc = config_test::task();
  node pool = config_test::pool("api");
  pool["queue_length"] = 5;
  pool["start_mode"] = "Sometimes";
  pool["idle_timeout"] = "soon";
  doc["application_pools"].list().push_back(pool);
  doc["applications"][0]["path"] = nullptr;
  doc["applications"][0]["enable_preload"] = "yes";
  doc["bindings"][0]["type"] = "ftp";
  doc["permit_iusr"] = 3;
  const std::string message = decode_fails(doc, "", "7 problems: (1) ");
  for (const char* expected :
       {"application_pool[0].start_mode: must be \"OnDemand\" or \"AlwaysRunning\", got "
        "\"Sometimes\"",
        "application_pool[0].idle_timeout: \"soon\" is not a duration",
        "application_pool[0].queue_length: must be between 10 and 65535, got 5",
        "application[0].path: is required", "application[0].enable_preload: expected a bool",
        "binding[0].type: must be \"http\" or \"https\", got \"ftp\"",
        "permit_iusr: expected a bool, got the number 3"}) {
    BOOST_TEST_INFO("missing: " << expected);
    BOOST_TEST(message.find(expected) != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_single_bad_field_keeps_its_own_path) {
  node doc = config_test::task();
  doc["bindings"][0]["port"] = nullptr;
  const std::string message = decode_fails(doc, "binding[0].port", "is required");
  BOOST_TEST(message == "binding[0].port: is required");
}

BOOST_AUTO_TEST_CASE(a_config_with_many_mistakes_gets_a_bounded_message) {
  node doc = config_test::task();
  doc["bindings"].list().clear();
  for (int i = 0; i < 30; ++i) doc["bindings"].list().push_back(config_test::binding("ftp", "p"));
  const std::string message = decode_fails(doc, "", "30 problems: ");
  BOOST_TEST(message.find("(20) binding[19].type") != std::string::npos);
  BOOST_TEST(message.find("binding[20]") == std::string::npos);
  BOOST_TEST(message.find("; and 10 more") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
