#pragma once
// The Management API's route table: maps a method and a raw URL path to a
// route with its parameters, or to 404 / 405 (with the Allow header value).

#include <string>
#include <string_view>
#include <vector>

namespace nomad_iis::http {

enum class route_id {
  list_allocs,  ///< GET  /api/v1/allocs
  debug,        ///< GET  /api/v1/debug
  metrics,      ///< GET  /api/v1/metrics
  status,       ///< GET  /api/v1/allocs/{alloc}/{task}/status
  start,        ///< PUT  .../start
  stop,         ///< PUT  .../stop
  recycle,      ///< PUT  .../recycle
  fs_get,       ///< GET  .../fs/{path}
  fs_put,       ///< PUT  .../fs/{path}
  fs_patch,     ///< PATCH .../fs/{path}
  fs_delete,    ///< DELETE .../fs/{path}
  screenshot,   ///< GET  .../screenshot
  procdump,     ///< GET  .../procdump
  workers,      ///< GET  .../pools/{pool}/workers
  requests,     ///< GET  .../requests
  openapi,      ///< GET  /api/v1/openapi.json (public)
  count_,       ///< not a route: how many there are
};

/// The path of the API's OpenAPI document, the one route without credentials.
inline constexpr std::string_view openapi_path = "/api/v1/openapi.json";

struct route_match {
  /// 200 when a route matched; else 404 or 405.
  int status = 404;
  route_id id = route_id::list_allocs;
  std::string alloc_id;   ///< decoded
  std::string task_name;  ///< decoded
  std::string pool_name;  ///< decoded; workers only
  /// The raw (still encoded) segments after "fs/"; decode with decode_fs_path.
  std::vector<std::string> fs_segments;
  /// For 405: the methods the path accepts ("GET, PUT").
  std::string allow;
};

/// Matches `raw_path` (the request target without the query, not decoded).
/// Throws http_error 400 when alloc or task segments are badly encoded.
route_match match_route(std::string_view method, std::string_view raw_path);

/// The route's name in logs and metrics ("status", "fs_get", ...).
std::string_view route_name(route_id id);

/// The query parameters route `id` reads (the OpenAPI document lists the
/// same ones; tests/http/openapi_test.cpp holds both to it).
std::vector<std::string_view> query_parameters(route_id id);

}  // namespace nomad_iis::http
