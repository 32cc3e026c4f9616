#include "adapters/http/router.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "adapters/http/http_error.hpp"

namespace nomad_iis::http {
namespace {

std::vector<std::string> split_raw(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string decode_segment(const std::string& raw, const char* what) {
  std::string out;
  if (raw.find('%') == std::string::npos) {
    out = raw;  // nothing to decode
  } else {
    try {
      Poco::URI::decode(raw, out, false);
    } catch (const Poco::Exception&) {
      throw bad_request("bad_request", std::string("the ") + what + " is badly encoded");
    }
  }
  for (unsigned char c : out)
    if (c < 0x20 || c == '/' || c == 0x7f)
      throw bad_request("bad_request", std::string("the ") + what + " holds an invalid character");
  return out;
}

struct method_route {
  const char* method;
  route_id id;
};

route_match pick(std::string_view method, std::initializer_list<method_route> table) {
  route_match m;
  for (const auto& entry : table) {
    if (method == entry.method) {
      m.status = 200;
      m.id = entry.id;
      return m;
    }
    m.allow += (m.allow.empty() ? "" : ", ") + std::string(entry.method);
  }
  m.status = 405;
  return m;
}

}  // namespace

std::string_view route_name(route_id id) {
  switch (id) {
    case route_id::list_allocs:
      return "list_allocs";
    case route_id::debug:
      return "debug";
    case route_id::metrics:
      return "metrics";
    case route_id::status:
      return "status";
    case route_id::start:
      return "start";
    case route_id::stop:
      return "stop";
    case route_id::recycle:
      return "recycle";
    case route_id::fs_get:
      return "fs_get";
    case route_id::fs_put:
      return "fs_put";
    case route_id::fs_patch:
      return "fs_patch";
    case route_id::fs_delete:
      return "fs_delete";
    case route_id::screenshot:
      return "screenshot";
    case route_id::procdump:
      return "procdump";
    case route_id::workers:
      return "pool_workers";
    case route_id::requests:
      return "open_requests";
    case route_id::openapi:
      return "openapi";
    case route_id::count_:
      break;
  }
  return "unmatched";
}

std::vector<std::string_view> query_parameters(route_id id) {
  switch (id) {
    case route_id::list_allocs:
      return {"job", "namespace", "task"};
    case route_id::start:
    case route_id::stop:
    case route_id::recycle:
    case route_id::procdump:
      return {"appPoolName"};
    case route_id::fs_get:
      return {"list"};
    case route_id::fs_put:
    case route_id::fs_patch:
      return {"clean"};
    case route_id::screenshot:
      return {"path", "width", "height"};
    default:
      return {};
  }
}

route_match match_route(std::string_view method, std::string_view raw_path) {
  auto seg = split_raw(raw_path);
  // seg[0] is "" (the leading slash).
  if (seg.size() < 4 || !seg[0].empty() || seg[1] != "api" || seg[2] != "v1") return {};
  if (seg.size() == 4 && seg[3] == "allocs") return pick(method, {{"GET", route_id::list_allocs}});
  if (seg.size() == 4 && seg[3] == "debug") return pick(method, {{"GET", route_id::debug}});
  if (seg.size() == 4 && seg[3] == "metrics") return pick(method, {{"GET", route_id::metrics}});
  if (seg.size() == 4 && seg[3] == "openapi.json")
    return pick(method, {{"GET", route_id::openapi}});
  if (seg[3] != "allocs" || seg.size() < 7 || seg[4].empty() || seg[5].empty()) return {};

  route_match m;
  const auto& action = seg[6];
  if (action == "fs") {
    m = pick(method, {{"GET", route_id::fs_get},
                      {"PUT", route_id::fs_put},
                      {"PATCH", route_id::fs_patch},
                      {"DELETE", route_id::fs_delete}});
    m.fs_segments.assign(seg.begin() + 7, seg.end());
  } else if (action == "pools" && seg.size() == 9 && !seg[7].empty() && seg[8] == "workers") {
    m = pick(method, {{"GET", route_id::workers}});
    if (m.status == 200) m.pool_name = decode_segment(seg[7], "pool name");
  } else if (seg.size() != 7) {
    return {};
  } else if (action == "status") {
    m = pick(method, {{"GET", route_id::status}});
  } else if (action == "start") {
    m = pick(method, {{"PUT", route_id::start}});
  } else if (action == "stop") {
    m = pick(method, {{"PUT", route_id::stop}});
  } else if (action == "recycle") {
    m = pick(method, {{"PUT", route_id::recycle}});
  } else if (action == "screenshot") {
    m = pick(method, {{"GET", route_id::screenshot}});
  } else if (action == "procdump") {
    m = pick(method, {{"GET", route_id::procdump}});
  } else if (action == "requests") {
    m = pick(method, {{"GET", route_id::requests}});
  } else {
    return {};
  }
  if (m.status == 200) {
    m.alloc_id = decode_segment(seg[4], "allocation ID");
    m.task_name = decode_segment(seg[5], "task name");
  }
  return m;
}

}  // namespace nomad_iis::http
