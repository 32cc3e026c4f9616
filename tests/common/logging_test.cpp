#define BOOST_TEST_MODULE common
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include "common/logging.hpp"

using namespace nomad_iis;

namespace {
rapidjson::Document parse(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError(), "not JSON: " << line);
  return doc;
}
}  // namespace

BOOST_AUTO_TEST_CASE(line_is_hclog_json) {
  auto doc =
      parse(logging::format_line(spdlog::level::warn, "nomad_iis.driver", "pool \"a\" stopped",
                                 {{"task_id", "x/y/1"}, {"@level", "ignored"}}));
  BOOST_TEST(doc["@level"].GetString() == std::string("warn"));
  BOOST_TEST(doc["@message"].GetString() == std::string("pool \"a\" stopped"));
  BOOST_TEST(doc["@module"].GetString() == std::string("nomad_iis.driver"));
  BOOST_TEST(doc["task_id"].GetString() == std::string("x/y/1"));
  // go-plugin accepts only 2006-01-02T15:04:05.000000Z07:00.
  std::string ts = doc["@timestamp"].GetString();
  BOOST_TEST(ts.size() == 27u);
  BOOST_TEST(ts[10] == 'T');
  BOOST_TEST(ts[19] == '.');
  BOOST_TEST(ts.back() == 'Z');
}

BOOST_AUTO_TEST_CASE(secrets_never_appear) {
  logging::add_secret("s3cr3t-key");
  auto line = logging::format_line(spdlog::level::info, "m", "key is s3cr3t-key twice s3cr3t-key",
                                   {{"arg", "--management-api-key=s3cr3t-key"}});
  BOOST_TEST(line.find("s3cr3t-key") == std::string::npos);
  BOOST_TEST(line.find("[redacted]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(short_secrets_are_hidden_only_where_they_stand_alone) {
  logging::add_secret("k");
  auto line =
      logging::format_line(spdlog::level::info, "m", "kill the worker", {{"arg", "--key=k"}});
  BOOST_TEST(line.find("kill the worker") != std::string::npos);
  BOOST_TEST(line.find("--key=[redacted]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(levels_map_to_hclog_names) {
  BOOST_TEST(parse(logging::format_line(spdlog::level::trace, "m", "", {}))["@level"].GetString() ==
             std::string("trace"));
  BOOST_TEST(
      parse(logging::format_line(spdlog::level::critical, "m", "", {}))["@level"].GetString() ==
      std::string("error"));
}
