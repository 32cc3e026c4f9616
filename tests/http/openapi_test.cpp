// The OpenAPI document against the code: every route the router accepts is
// documented and nothing else is, each operation lists exactly the query
// parameters its route reads, every $ref resolves, every example and every
// JSON body the views produce validates against its schema.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/http/json_errors.hpp"
#include "adapters/http/openapi_document.hpp"
#include "adapters/http/router.hpp"
#include "adapters/http/views.hpp"

using namespace nomad_iis;
using namespace nomad_iis::http;

namespace {

const rapidjson::Document& doc() {
  static const rapidjson::Document d = [] {
    rapidjson::Document x;
    x.Parse(openapi_document().data(), openapi_document().size());
    return x;
  }();
  return d;
}

/// The value `ref` ("#/components/...") points to, or nullptr.
const rapidjson::Value* resolve(const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) return nullptr;
  return rapidjson::Pointer(ref.substr(1).c_str()).Get(doc());
}

const rapidjson::Value& deref(const rapidjson::Value& v) {
  if (v.IsObject() && v.HasMember("$ref")) {
    const auto* target = resolve(v["$ref"].GetString());
    BOOST_REQUIRE_MESSAGE(target, "unresolved $ref " << v["$ref"].GetString());
    return *target;
  }
  return v;
}

/// A concrete path for a documented template.
std::string instantiate(std::string path) {
  const std::vector<std::pair<std::string, std::string>> values{{"{allocId}", "alloc1"},
                                                                {"{taskName}", "web"},
                                                                {"{path}", "local/site"},
                                                                {"{poolName}", "default"}};
  for (const auto& [name, value] : values)
    if (auto at = path.find(name); at != std::string::npos) path.replace(at, name.size(), value);
  return path;
}

std::set<std::string> documented_query(const rapidjson::Value& item, const rapidjson::Value& op) {
  std::set<std::string> names;
  for (const auto* holder : {&item, &op}) {
    if (!holder->HasMember("parameters")) continue;
    for (const auto& p : (*holder)["parameters"].GetArray()) {
      const auto& param = deref(p);
      if (std::string(param["in"].GetString()) == "query") names.insert(param["name"].GetString());
    }
  }
  return names;
}

/// Whether `json` is valid against `schema` (which may refer to components).
std::string schema_problem(const rapidjson::Value& schema, const std::string& json) {
  rapidjson::Document wrapper;
  wrapper.SetObject();
  auto& a = wrapper.GetAllocator();
  rapidjson::Value all(rapidjson::kArrayType);
  all.PushBack(rapidjson::Value(schema, a), a);
  wrapper.AddMember("allOf", all, a);
  wrapper.AddMember("components", rapidjson::Value(doc()["components"], a), a);
  rapidjson::SchemaDocument compiled(wrapper);
  rapidjson::SchemaValidator validator(compiled);
  rapidjson::Document body;
  if (body.Parse(json.c_str()).HasParseError()) return "not JSON: " + json;
  if (body.Accept(validator)) return "";
  rapidjson::StringBuffer where;
  validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
  return std::string("fails '") + validator.GetInvalidSchemaKeyword() + "' at " +
         where.GetString() + " in " + json;
}

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

const rapidjson::Value& component_schema(const char* name) {
  return doc()["components"]["schemas"][name];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(openapi)

BOOST_AUTO_TEST_CASE(the_document_is_openapi_3_1_json) {
  BOOST_REQUIRE(!doc().HasParseError());
  BOOST_TEST(std::string(doc()["openapi"].GetString()) == "3.1.0");
  BOOST_TEST(doc()["paths"].HasMember(std::string(openapi_path).c_str()));
}

BOOST_AUTO_TEST_CASE(every_route_is_documented_and_every_documented_operation_is_a_route) {
  const std::vector<std::string> methods{"get",  "put",  "patch",  "delete",
                                         "post", "head", "options"};
  std::set<int> seen;
  for (const auto& item : doc()["paths"].GetObject()) {
    const std::string path = item.name.GetString();
    for (const auto& method : methods) {
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      const auto m = match_route(upper, instantiate(path));
      const bool documented = item.value.HasMember(method.c_str());
      BOOST_TEST((m.status == 200) == documented,
                 upper << " " << path << ": router says " << m.status);
      if (!documented || m.status != 200) continue;
      seen.insert(static_cast<int>(m.id));
      const auto want = documented_query(item.value, item.value[method.c_str()]);
      std::set<std::string> reads;
      for (auto name : query_parameters(m.id)) reads.insert(std::string(name));
      BOOST_TEST(want == reads, upper << " " << path
                                      << ": documented and read query "
                                         "parameters differ");
    }
  }
  for (int id = 0; id < static_cast<int>(route_id::count_); ++id)
    BOOST_TEST(seen.count(id) == 1u, "route " << id << " is not in the OpenAPI document");
}

BOOST_AUTO_TEST_CASE(every_operation_but_the_document_answers_401_without_credentials) {
  for (const auto& item : doc()["paths"].GetObject()) {
    for (const auto& op : item.value.GetObject()) {
      if (!op.value.IsObject() || !op.value.HasMember("responses")) continue;
      const bool is_public = op.value.HasMember("security") && op.value["security"].Empty();
      BOOST_TEST(op.value["responses"].HasMember("401") == !is_public,
                 op.name.GetString() << " " << item.name.GetString());
      BOOST_TEST(op.value.HasMember("operationId"));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_ref_resolves_and_every_example_fits_its_schema) {
  int examples = 0;
  std::function<void(const rapidjson::Value&)> walk = [&](const rapidjson::Value& v) {
    if (v.IsArray()) {
      for (const auto& x : v.GetArray()) walk(x);
      return;
    }
    if (!v.IsObject()) return;
    if (v.HasMember("$ref"))
      BOOST_TEST(resolve(v["$ref"].GetString()) != nullptr, v["$ref"].GetString());
    if (v.HasMember("schema") && v.HasMember("example")) {
      ++examples;
      BOOST_TEST(schema_problem(v["schema"], to_json(v["example"])) == "");
    }
    for (const auto& m : v.GetObject()) walk(m.value);
  };
  walk(doc());
  BOOST_TEST(examples >= 15);
}

BOOST_AUTO_TEST_CASE(the_views_answer_what_the_document_says) {
  msg::site_status site;
  site.task = {"alloc1/web/1", "alloc1", "web", "web-job", "web-group", "default", "site", false};
  msg::pool_info pool;
  pool.name = "default";
  pool.status = "Started";
  pool.worker_running = true;
  pool.worker_pids = {42};
  pool.usage.percent = 1.5;
  pool.usage.rss_bytes = 1024;
  site.pools = {pool};
  BOOST_TEST(schema_problem(component_schema("Status"), status_json(site)) == "");
  site.pools.clear();
  BOOST_TEST(schema_problem(component_schema("Status"), status_json(site)) == "");
  BOOST_TEST(schema_problem(doc()["paths"]["/api/v1/allocs"]["get"]["responses"]["200"]["content"]
                                 ["application/json"]["schema"],
                            alloc_list_json({site.task})) == "");
  msg::debug_info info;
  info.tasks = {site.task};
  info.dangling.push_back({"old-site", "/var/lib/x", {7}});
  BOOST_TEST(schema_problem(component_schema("DebugInfo"), debug_json(info)) == "");
  BOOST_TEST(schema_problem(component_schema("Error"), error_json("busy", "try later")) == "");
  msg::folder_listing listing{"local",
                              {{"index.html", "file", 5, 1700000000},
                               {"css", "directory", 0, 0},
                               {std::string("bad\xff"), "file", 1, 0}}};
  const auto listed = listing_json(listing);
  BOOST_TEST(schema_problem(component_schema("FolderListing"), listed) == "");
  BOOST_TEST(listed.find("\"2023-11-14T22:13:20Z\"") != std::string::npos);
  BOOST_TEST(listed.find("bad") == std::string::npos);  // not UTF-8: left out
  msg::pool_workers workers;
  workers.pool = "default";
  workers.status = "Started";
  workers.requests_served = 12;
  workers.workers = {{42, 1796589219127, 4096, 0.25}};
  BOOST_TEST(schema_problem(component_schema("PoolWorkers"), pool_workers_json(workers)) == "");
  BOOST_TEST(pool_workers_json(workers).find("\"startTime\":\"2026-12-06T20:33:39.127Z\"") !=
             std::string::npos);
  msg::open_request_list open;
  open.requests = {{"GET", "/slow", "127.0.0.1", "default", 2.5}};
  BOOST_TEST(schema_problem(component_schema("OpenRequests"), open_requests_json(open)) == "");
  open.requests.clear();
  BOOST_TEST(schema_problem(component_schema("OpenRequests"), open_requests_json(open)) == "");
  // A field the document does not know fails: the check can fail.
  BOOST_TEST(schema_problem(component_schema("Error"), R"({"error":"x","message":"y","z":1})") !=
             "");
}

BOOST_AUTO_TEST_SUITE_END()
