#include "adapters/http/views.hpp"

#include <cstdio>
#include <ctime>

#include <rapidjson/encodings.h>
#include <rapidjson/stream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace nomad_iis::http {
namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(writer& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

void pool(writer& w, const msg::pool_info& p) {
  w.StartObject();
  str(w, "name", p.name);
  str(w, "status", p.status);
  w.Key("isWorkerProcessRunning");
  w.Bool(p.worker_running);
  w.Key("workerProcessIds");
  w.StartArray();
  for (auto pid : p.worker_pids) w.Int(pid);
  w.EndArray();
  w.Key("cpuPercent");
  w.Double(p.usage.percent);
  w.Key("memoryBytes");
  w.Uint64(p.usage.rss_bytes);
  w.EndObject();
}

void summary(writer& w, const msg::task_summary& t) {
  str(w, "allocId", t.alloc_id);
  str(w, "taskName", t.task_name);
  str(w, "namespace", t.namespace_name);
  str(w, "jobName", t.job_name);
  str(w, "taskGroupName", t.group_name);
}

bool is_utf8(const std::string& s) {
  rapidjson::StringStream in(s.c_str());
  rapidjson::StringBuffer ignored;
  while (static_cast<std::size_t>(in.Tell()) < s.size())
    if (!rapidjson::UTF8<>::Validate(in, ignored)) return false;
  return true;
}

/// "2026-12-06T20:30:46Z"
std::string iso_time(std::int64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string listing_json(const msg::folder_listing& listing) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  str(w, "path", listing.path);
  w.Key("entries");
  w.StartArray();
  for (const auto& e : listing.entries) {
    if (!is_utf8(e.name)) continue;
    w.StartObject();
    str(w, "name", e.name);
    str(w, "type", e.type);
    w.Key("size");
    w.Uint64(e.size);
    str(w, "modified", iso_time(e.modified));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string status_json(const msg::site_status& s) {
  rapidjson::StringBuffer buf(nullptr, 1024);  // one allocation for a task's status
  writer w(buf);
  w.StartObject();
  summary(w, s.task);
  w.Key("defaultApplicationPool");
  const msg::pool_info* def = nullptr;
  for (const auto& p : s.pools)
    if (p.name == "default") def = &p;
  if (def)
    pool(w, *def);
  else
    w.Null();
  // The shape nomad-iis's Management API document shows: the default pool,
  // else the first, as {"status","isWorkerProcessRunning"}.
  w.Key("applicationPool");
  if (!def && !s.pools.empty()) def = &s.pools.front();
  if (def) {
    w.StartObject();
    str(w, "status", def->status);
    w.Key("isWorkerProcessRunning");
    w.Bool(def->worker_running);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("applicationPools");
  w.StartArray();
  for (const auto& p : s.pools) pool(w, p);
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string alloc_list_json(const std::vector<msg::task_summary>& tasks) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartArray();
  for (const auto& t : tasks) {
    w.StartObject();
    summary(w, t);
    str(w, "taskId", t.task_id);
    w.EndObject();
  }
  w.EndArray();
  return buf.GetString();
}

std::string debug_json(const msg::debug_info& info) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  w.Key("taskCount");
  w.Uint64(info.tasks.size());
  w.Key("tasks");
  w.StartArray();
  for (const auto& t : info.tasks) {
    w.StartObject();
    str(w, "taskId", t.task_id);
    summary(w, t);
    str(w, "siteName", t.site_name);
    w.Key("isRecovered");
    w.Bool(t.recovered);
    w.EndObject();
  }
  w.EndArray();
  w.Key("danglingSiteCount");
  w.Uint64(info.dangling.size());
  w.Key("danglingSites");
  w.StartArray();
  for (const auto& d : info.dangling) {
    w.StartObject();
    str(w, "siteName", d.site_name);
    str(w, "dataDir", d.data_dir);
    w.Key("pids");
    w.StartArray();
    for (auto pid : d.pids) w.Int(pid);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string rfc3339_utc(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string pool_workers_json(const msg::pool_workers& pool) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  str(w, "appPoolName", pool.pool);
  str(w, "status", pool.status);
  w.Key("requestsServed");
  w.Uint64(pool.requests_served);
  w.Key("workers");
  w.StartArray();
  for (const auto& worker : pool.workers) {
    w.StartObject();
    w.Key("pid");
    w.Int(worker.pid);
    str(w, "startTime", rfc3339_utc(worker.started_ms));
    w.Key("rssBytes");
    w.Uint64(worker.rss_bytes);
    w.Key("cpuSeconds");
    w.Double(worker.cpu_seconds);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string open_requests_json(const msg::open_request_list& list) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  w.Key("requests");
  w.StartArray();
  for (const auto& r : list.requests) {
    w.StartObject();
    str(w, "method", r.method);
    str(w, "path", r.path);
    str(w, "clientAddress", r.client);
    str(w, "appPoolName", r.pool);
    w.Key("elapsedSeconds");
    w.Double(r.elapsed_seconds);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

}  // namespace nomad_iis::http
