#include "adapters/http/handlers.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/http/body_reader.hpp"
#include "adapters/http/change_lease.hpp"
#include "adapters/http/download.hpp"
#include "adapters/http/error_status.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/json_errors.hpp"
#include "adapters/http/paths.hpp"
#include "adapters/http/router.hpp"
#include "adapters/http/upload.hpp"
#include "adapters/http/views.hpp"
#include "common/logging.hpp"
#include "iis/files/remove.hpp"
#include "iis/inspect/procdump.hpp"
#include "iis/inspect/screenshot.hpp"

namespace nomad_iis::http {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using query_map = std::multimap<std::string, std::string>;

/// How long a request may wait for a free dump slot.
constexpr auto dump_queue_wait = std::chrono::seconds(60);
/// How long gcore may take.
constexpr auto dump_timeout = std::chrono::minutes(5);

/// A failure after the response started: only cutting the connection tells
/// the client the body is incomplete.
struct mid_stream_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

capability capability_for(route_id id) {
  switch (id) {
    case route_id::status:
    case route_id::list_allocs:
      return capability::status;
    case route_id::start:
    case route_id::stop:
    case route_id::recycle:
      return capability::app_pool_lifecycle;
    case route_id::screenshot:
      return capability::screenshots;
    case route_id::procdump:
      return capability::procdump;
    case route_id::debug:
      return capability::debug;
    default:
      return capability::filesystem_access;
  }
}

std::string query_value(const query_map& q, const std::string& name,
                        const std::string& fallback = {}) {
  auto it = q.find(name);
  return it == q.end() ? fallback : it->second;
}

bool query_flag(const query_map& q, const std::string& name) {
  auto v = query_value(q, name);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v.empty() || v == "false" || v == "0" || v == "no") return false;
  if (v == "true" || v == "1" || v == "yes") return true;
  throw bad_request("bad_request", "?" + name + " must be true or false");
}

int query_int(const query_map& q, const std::string& name, int fallback, int lo, int hi) {
  auto v = query_value(q, name);
  if (v.empty()) return fallback;
  try {
    std::size_t used = 0;
    int n = std::stoi(v, &used);
    if (used == v.size() && n >= lo && n <= hi) return n;
  } catch (const std::exception&) {
  }
  throw bad_request("bad_request", "?" + name + " must be a number from " + std::to_string(lo) +
                                       " to " + std::to_string(hi));
}

std::string timestamp_now() {
  char buf[32];
  auto t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d-%H-%M-%S", &tm);
  return buf;
}

std::string basename_of(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

void cut_connection(HTTPServerRequest& request, HTTPServerResponse& response) {
  response.setKeepAlive(false);
  if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request)) {
    try {
      impl->socket().shutdown();
    } catch (const Poco::Exception&) {
    }
  }
}

std::string upload_json(const upload_result& r) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("bytesReceived");
  w.Uint64(r.bytes_received);
  w.Key("files");
  w.Uint64(r.files);
  w.Key("stoppedPools");
  w.StartArray();
  for (const auto& p : r.stopped_pools) w.String(p.c_str());
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

/// One request's worth of state, so the steps read top to bottom.
class exchange {
 public:
  exchange(api_context& ctx, HTTPServerRequest& req, HTTPServerResponse& res)
      : ctx_(ctx), req_(req), res_(res) {}

  void run() {
    const auto& uri = req_.getURI();
    auto q = uri.find('?');
    const std::string raw_path = uri.substr(0, q);

    const std::string* key = req_.has("X-Api-Key") ? &req_.get("X-Api-Key") : nullptr;
    const std::string* authz = req_.has("Authorization") ? &req_.get("Authorization") : nullptr;
    auto auth = ctx_.auth.authenticate(key, authz, std::chrono::system_clock::now());
    if (!auth.who) {
      logging::log(*ctx_.log, spdlog::level::debug, "request refused", {{"reason", auth.why}});
      throw http_error(401, "unauthorized", "missing or invalid credentials");
    }
    who_ = std::move(*auth.who);

    auto route = match_route(req_.getMethod(), raw_path);
    if (route.status == 404) throw not_found("no such route");
    if (route.status == 405) {
      send_error(res_, 405, "method_not_allowed", req_.getMethod() + " is not allowed here",
                 route.allow);
      return;
    }
    try {
      for (auto& [k, v] : Poco::URI(uri).getQueryParameters()) query_.emplace(k, v);
    } catch (const Poco::Exception&) {
      throw bad_request("bad_request", "the query string is malformed");
    }

    auto cap = capability_for(route.id);
    if (!who_.has(cap))
      throw forbidden("the credentials lack the " + std::string(to_string(cap)) + " capability");
    switch (route.id) {
      case route_id::list_allocs:
        return list_allocs();
      case route_id::debug:
        return debug();
      default:
        break;
    }
    if (!who_.may_access_alloc(route.alloc_id))
      throw forbidden("the credentials do not cover this allocation");
    if (route.id == route_id::status) return status(route);
    task_ = ctx_.tasks.find(route.alloc_id, route.task_name);
    check_task_access(task_.summary);

    switch (route.id) {
      case route_id::start:
        return pools(msg::pool_op::start);
      case route_id::stop:
        return pools(msg::pool_op::stop);
      case route_id::recycle:
        return pools(msg::pool_op::recycle);
      case route_id::screenshot:
        return screenshot();
      case route_id::procdump:
        return procdump();
      default:
        return files(route);
    }
  }

 private:
  void check_task_access(const msg::task_summary& s) const {
    if (!who_.may_access(s.alloc_id, s.namespace_name, s.job_name))
      throw forbidden("the credentials do not cover this task's namespace or job");
  }

  /// Lookup and status in one coalesced read: clients polling one task at
  /// once share the task actor's answer (see coalesced_reads).
  void status(const route_match& route) {
    auto answer = ctx_.status_reads.read({route.alloc_id, route.task_name}, [&] {
      return make_status_answer(ctx_.tasks.find_status(route.alloc_id, route.task_name));
    });
    check_task_access(answer->task);
    send_json(res_, answer->body);
  }

  void list_allocs() {
    auto job = query_value(query_, "job"), ns = query_value(query_, "namespace"),
         task = query_value(query_, "task");
    auto all = ctx_.tasks.list();
    std::vector<msg::task_summary> visible;
    for (auto& t : all) {
      if (!who_.may_access(t.alloc_id, t.namespace_name, t.job_name)) continue;
      if ((!job.empty() && t.job_name != job) || (!ns.empty() && t.namespace_name != ns) ||
          (!task.empty() && t.task_name != task))
        continue;
      visible.push_back(std::move(t));
    }
    send_json(res_, alloc_list_json(visible));
  }

  /// Only what the credentials cover, exactly as list_allocs; sites that
  /// no task owns belong to no allocation a scoped token could name.
  void debug() {
    auto info = ctx_.tasks.debug();
    auto hidden = [&](const msg::task_summary& t) {
      return !who_.may_access(t.alloc_id, t.namespace_name, t.job_name);
    };
    info.tasks.erase(std::remove_if(info.tasks.begin(), info.tasks.end(), hidden),
                     info.tasks.end());
    if (!who_.may_access_any_alloc()) info.dangling.clear();
    send_json(res_, debug_json(info));
  }

  void pools(msg::pool_op op) {
    std::vector<std::string> names;
    if (auto name = query_value(query_, "appPoolName"); !name.empty()) names.push_back(name);
    ctx_.tasks.pools(task_, op, names);
    send_json(res_, status_json(ctx_.tasks.status(task_)));
  }

  void files(const route_match& route) {
    auto site = ctx_.tasks.status(task_);
    auto driver = ctx_.driver();
    auto path = decode_fs_path(route.fs_segments);
    const bool empty_only = route.id == route_id::fs_delete && files::strip_clean_suffix(path);
    const files::task_root root(site.task_dir, secrets_name(site), driver->allow_secrets_access);
    const auto target = files::resolve_path(root, path);
    const std::string lease_path = site.task_dir + "/" + target.relative;

    if (route.id == route_id::fs_delete) {
      remove_entry(target, lease_path, empty_only);
      return send_json(res_, "{}");
    }
    if (route.id == route_id::fs_get) {
      auto name = target.is_root() ? task_.summary.task_name : basename_of(target.relative);
      try {
        send_download(root, target, name, res_);
      } catch (const std::exception& e) {
        if (!res_.sent()) throw;
        throw mid_stream_failure(e.what());
      }
      return;
    }
    upload(route.id == route_id::fs_put, root, target, lease_path, *driver);
  }

  /// The secrets folder's name in the task dir ("secrets"; "" if it lies elsewhere).
  static std::string secrets_name(const msg::site_status& site) {
    const std::string prefix = site.task_dir + "/";
    if (site.secrets_dir.compare(0, prefix.size(), prefix) != 0) return "";
    auto name = site.secrets_dir.substr(prefix.size());
    return name.find('/') == std::string::npos ? name : "";
  }

  /// Removes or empties `target`: staged without holding the task, moved
  /// away under the change lease, deleted once the lease is released.
  void remove_entry(const files::resolved_path& target, const std::string& lease_path,
                    bool empty_only) {
    files::pending_delete removal(target, empty_only);
    change_lease lease(ctx_.tasks, task_, lease_path, false);
    removal.apply();
    lease.finish();
  }

  void upload(bool put, const files::task_root& root, const files::resolved_path& target,
              const std::string& lease_path, const config::driver_config& driver) {
    upload_request up;
    up.stop_pools = put;
    up.clean = query_flag(query_, "clean");
    auto type = req_.getContentType();
    type = type.substr(0, type.find(';'));
    type.erase(
        std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }),
        type.end());
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    up.is_zip = type == "application/zip" || type == "application/x-zip-compressed";
    up.max_bytes = driver.upload_max_bytes;
    up.limits = {driver.zip_max_entries, driver.zip_max_uncompressed_bytes, driver.zip_max_ratio};
    const bool chunked = req_.getChunkedTransferEncoding();
    if (!chunked && !req_.hasContentLength())
      throw http_error(411, "length_required", "send the body with a Content-Length or chunked");
    // Poco cannot tell a cut chunked body from a complete one; a zip proves
    // itself complete through its central directory, a plain file cannot.
    if (chunked && !up.is_zip)
      throw http_error(411, "length_required", "single-file uploads need a Content-Length");
    if (!chunked) {
      up.content_length = static_cast<std::uint64_t>(req_.getContentLength64());
      if (*up.content_length > up.max_bytes)
        throw http_error(413, "upload_too_large",
                         "the upload is larger than " + std::to_string(up.max_bytes) + " bytes");
    }
    auto result =
        apply_upload(ctx_.tasks, task_, root, target, lease_path, make_body_reader(req_), up);
    body_consumed = true;
    send_json(res_, upload_json(result));
    result.leftovers.reset();  // the replaced tree goes after the client has its answer
  }

  void screenshot() {
    auto site = ctx_.tasks.status(task_);
    if (site.http_url.empty()) throw not_found("the task has no http binding");
    auto driver = ctx_.driver();
    inspect::screenshot_request shot;
    shot.chromium_path = driver->chromium_path;
    shot.base_url = site.http_url;
    shot.hostname = site.http_hostname;
    shot.path = inspect::screenshot_path(query_value(query_, "path", "/"));
    shot.width = query_int(query_, "width", 1280, 64, 4096);
    shot.height = query_int(query_, "height", 720, 64, 4096);
    shot.timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(driver->screenshot_timeout);
    try {
      if (ctx_.browser_account) shot.user = ctx_.browser_account();
    } catch (const std::exception& e) {
      throw http_error(503, "screenshots_unavailable",
                       std::string("no user to run the browser as: ") + e.what());
    }
    if (!ctx_.screenshots.acquire(driver->screenshot_concurrency, shot.timeout))
      throw http_error(503, "busy", "too many screenshots are being taken; try again later");
    std::string png;
    {
      limiter_slot slot(ctx_.screenshots);
      png = inspect::take_screenshot(shot);
    }
    res_.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    res_.setContentType("image/png");
    res_.set("Content-Disposition",
             content_disposition("screenshot_" + task_.summary.alloc_id + "_" +
                                 task_.summary.task_name + "_" + timestamp_now() + ".png"));
    res_.setContentLength(static_cast<std::streamsize>(png.size()));
    res_.sendBuffer(png.data(), png.size());
  }

  void procdump() {
    auto site = ctx_.tasks.status(task_);
    auto name = query_value(query_, "appPoolName", "default");
    auto it = std::find_if(site.pools.begin(), site.pools.end(),
                           [&](const msg::pool_info& p) { return p.name == name; });
    if (it == site.pools.end())
      throw bad_request("unknown_pool", "the task has no application pool \"" + name + "\"");
    if (it->worker_pids.empty())
      throw conflict("no_worker", "the pool \"" + name + "\" has no running worker process");
    auto driver = ctx_.driver();
    if (!ctx_.dumps.acquire(driver->procdump_concurrency, dump_queue_wait))
      throw http_error(503, "busy", "too many dumps are being taken; try again later");
    inspect::core_dump dump;
    {
      limiter_slot slot(ctx_.dumps);
      dump = inspect::dump_process(driver->dump_tool_path(), it->worker_pids.front(), dump_timeout);
    }
    std::ifstream in(dump.path, std::ios::binary);
    if (!in) throw http_error(500, "internal", "the dump cannot be read");
    res_.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    res_.setContentType("application/octet-stream");
    res_.set("Content-Disposition",
             content_disposition("procdump_" + task_.summary.alloc_id + "_" +
                                 task_.summary.task_name + "_" + timestamp_now() + ".core"));
    res_.setContentLength64(static_cast<Poco::Int64>(dump.size));
    auto& out = res_.send();
    std::vector<char> buf(256 << 10);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      if (in.gcount() > 0) out.write(buf.data(), in.gcount());
      if (!out) throw mid_stream_failure("the client went away");
    }
    out.flush();
  }

 public:
  /// Whether the request body was read to its end (else the connection closes).
  bool body_consumed = false;

 private:
  api_context& ctx_;
  HTTPServerRequest& req_;
  HTTPServerResponse& res_;
  principal who_;
  query_map query_;
  task_ref task_;
};

}  // namespace

void request_handler::handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) {
  const auto started = std::chrono::steady_clock::now();
  exchange ex(ctx_, request, response);
  int status = 0;
  std::string error;
  auto refuse = [&](const http_error& e) {
    status = e.status();
    error = e.what();
    // An unread body would be parsed as the next request: close instead.
    if (!ex.body_consumed &&
        (request.getChunkedTransferEncoding() || request.getContentLength64() > 0))
      response.setKeepAlive(false);
    if (response.sent())
      cut_connection(request, response);
    else
      send_error(response, e.status(), e.code(), e.what());
  };
  try {
    ex.run();
    status = response.getStatus();
  } catch (const http_error& e) {
    refuse(e);
  } catch (const files::file_error& e) {
    refuse(to_http_error(e));
  } catch (const inspect::inspect_error& e) {
    refuse(to_http_error(e));
  } catch (const mid_stream_failure& e) {
    status = 599;
    error = e.what();
    cut_connection(request, response);
  } catch (const std::exception& e) {
    status = 500;
    error = e.what();
    response.setKeepAlive(false);
    if (response.sent())
      cut_connection(request, response);
    else
      send_error(response, 500, "internal", "internal error");
  }
  auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  auto level = status >= 500 ? spdlog::level::warn : spdlog::level::debug;
  if (ctx_.log->should_log(level)) {
    auto uri = request.getURI();
    logging::fields f{{"method", request.getMethod()},
                      {"path", uri.substr(0, uri.find('?'))},
                      {"status", std::to_string(status)},
                      {"ms", std::to_string(static_cast<long>(ms))}};
    if (!error.empty()) f.emplace_back("error", error);
    logging::log(*ctx_.log, level, "management api request", f);
  }
}

}  // namespace nomad_iis::http
