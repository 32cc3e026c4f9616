// The status document's shape: nomad-iis's applicationPool object beside the
// pool list, for a task with a "default" pool and for one without.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include "adapters/http/views.hpp"

using namespace nomad_iis;

namespace {

msg::pool_info pool(const std::string& name, const std::string& status, bool running) {
  msg::pool_info p;
  p.name = name;
  p.status = status;
  p.worker_running = running;
  if (running) p.worker_pids = {4242};
  return p;
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  return doc;
}

std::string text(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_view)

BOOST_AUTO_TEST_CASE(application_pool_is_the_default_pool) {
  msg::site_status s;
  s.task.alloc_id = "a1";
  s.task.task_name = "web";
  s.pools = {pool("api", "Started", true), pool("default", "Stopped", false)};
  auto doc = parse(http::status_json(s));
  BOOST_TEST(text(doc["allocId"]) == "a1");
  BOOST_TEST(text(doc["taskName"]) == "web");
  BOOST_TEST(text(doc["applicationPool"]["status"]) == "Stopped");
  BOOST_TEST(!doc["applicationPool"]["isWorkerProcessRunning"].GetBool());
  BOOST_TEST(text(doc["defaultApplicationPool"]["name"]) == "default");
  BOOST_TEST(doc["applicationPools"].Size() == 2u);
}

BOOST_AUTO_TEST_CASE(without_a_default_pool_application_pool_is_the_first) {
  msg::site_status s;
  s.pools = {pool("api", "Started", true), pool("web", "Stopped", false)};
  auto doc = parse(http::status_json(s));
  BOOST_TEST(text(doc["applicationPool"]["status"]) == "Started");
  BOOST_TEST(doc["applicationPool"]["isWorkerProcessRunning"].GetBool());
  BOOST_TEST(doc["defaultApplicationPool"].IsNull());
}

BOOST_AUTO_TEST_CASE(without_pools_application_pool_is_null) {
  auto doc = parse(http::status_json(msg::site_status{}));
  BOOST_TEST(doc["applicationPool"].IsNull());
  BOOST_TEST(doc["applicationPools"].Size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
