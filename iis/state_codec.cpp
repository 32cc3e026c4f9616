#include "iis/state_codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>

namespace nomad_iis::iis {
namespace {

/// 2: a task in a node website (plan.website) records the website's name;
/// version 1 handles (sites of their own) still decode.
constexpr int state_version = 2;
constexpr int oldest_state_version = 1;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;
using value = rapidjson::Value;

void put(writer& w, const char* key, const std::string& text) {
  w.Key(key);
  w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
}
void put(writer& w, const char* key, std::int64_t number) {
  w.Key(key);
  w.Int64(number);
}
void put_bool(writer& w, const char* key, bool flag) {
  w.Key(key);
  w.Bool(flag);
}
void put(writer& w, const char* key, const process_ref& ref) {
  w.Key(key);
  w.StartObject();
  put(w, "pid", ref.pid);
  w.Key("start");
  w.Uint64(ref.start_ticks);
  w.EndObject();
}
void put_strings(writer& w, const char* key, const std::vector<std::string>& items) {
  w.Key(key);
  w.StartArray();
  for (const auto& item : items)
    w.String(item.c_str(), static_cast<rapidjson::SizeType>(item.size()));
  w.EndArray();
}

void write_pool(writer& w, const pool_plan& pool) {
  w.StartObject();
  put(w, "name", pool.name);
  put(w, "start_mode", pool.start_mode == config::start_mode::always_running ? 1 : 0);
  if (pool.idle_timeout) put(w, "idle_timeout_ms", pool.idle_timeout->count());
  if (pool.periodic_restart) put(w, "periodic_restart_ms", pool.periodic_restart->count());
  put(w, "start_time_limit_ms", pool.start_time_limit.count());
  put(w, "shutdown_time_limit_ms", pool.shutdown_time_limit.count());
  put_bool(w, "overlapped_recycle", pool.overlapped_recycle);
  put(w, "tcp_level", pool.unavailable == config::unavailable_response::tcp_level ? 1 : 0);
  if (pool.queue_length) put(w, "queue_length", *pool.queue_length);
  if (pool.run_as_user) put(w, "run_as_user", *pool.run_as_user);
  // Absent in handles of earlier releases (their pools share www-data).
  if (!pool.managed_user_comment.empty()) put(w, "managed_user_comment", pool.managed_user_comment);
  // Absent in handles of earlier releases and when unset (0).
  if (pool.cpu_limit > 0) put(w, "cpu_limit", pool.cpu_limit);
  if (pool.private_memory_limit_kb > 0)
    put(w, "private_memory_limit_kb", pool.private_memory_limit_kb);
  put(w, "rapid_fail_max_crashes", pool.rapid_fail_max_crashes);
  put(w, "rapid_fail_interval_ms", pool.rapid_fail_interval.count());
  // Absent in handles of earlier releases: their fronts always proxied.
  if (pool.single_hop) put_bool(w, "single_hop", true);
  w.EndObject();
}

void write_plan(writer& w, const site_plan& plan) {
  w.StartObject();
  put(w, "site_name", plan.site_name);
  put(w, "data_dir", plan.data_dir);
  put(w, "task_dir", plan.task_dir);
  put(w, "secrets_dir", plan.secrets_dir);
  put(w, "tmp_dir", plan.tmp_dir);
  put(w, "stdout_path", plan.stdout_path);
  put(w, "stderr_path", plan.stderr_path);
  put(w, "nginx_path", plan.nginx_path);
  put(w, "placeholder_app_path", plan.placeholder_app_path);
  put_bool(w, "directory_security", plan.directory_security);
  put(w, "front_worker_connections", plan.front_worker_connections);
  w.Key("bindings");
  w.StartArray();
  for (const auto& b : plan.bindings) {
    w.StartObject();
    put(w, "https", b.type == config::binding_type::https ? 1 : 0);
    put(w, "ip", b.ip);
    put(w, "port", b.port);
    put(w, "hostname", b.hostname);
    put_bool(w, "require_sni", b.require_sni);
    if (b.certificate) {
      const auto& c = *b.certificate;
      w.Key("certificate");
      w.StartObject();
      put(w, "from", static_cast<std::int64_t>(c.from));
      put(w, "cert_file", c.cert_file);
      put(w, "key_file", c.key_file);
      put(w, "pfx_file", c.pfx_file);
      put_strings(w, "hostnames", c.hostnames);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("pools");
  w.StartArray();
  for (const auto& pool : plan.pools) write_pool(w, pool);
  w.EndArray();
  w.Key("applications");
  w.StartArray();
  for (const auto& app : plan.applications) {
    w.StartObject();
    put(w, "url_path", app.url_path);
    put(w, "physical_path", app.physical_path);
    put(w, "pool", app.pool);
    w.Key("vdirs");
    w.StartArray();
    for (const auto& vdir : app.virtual_directories) {
      w.StartObject();
      put(w, "url_path", vdir.url_path);
      put(w, "physical_path", vdir.physical_path);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  put_strings(w, "ignored_options", plan.ignored_options);
  if (!plan.website.empty()) put(w, "website", plan.website);
  w.EndObject();
}

// ---- reading ----

[[noreturn]] void missing(const char* key) {
  throw std::runtime_error(std::string("saved state: \"") + key + "\" is missing or malformed");
}
const value& member(const value& object, const char* key) {
  if (!object.IsObject()) missing(key);
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) missing(key);
  return it->value;
}
bool has(const value& object, const char* key) {
  return object.IsObject() && object.HasMember(key);
}
std::string text(const value& object, const char* key) {
  const auto& v = member(object, key);
  if (!v.IsString()) missing(key);
  return std::string(v.GetString(), v.GetStringLength());
}
std::int64_t number(const value& object, const char* key) {
  const auto& v = member(object, key);
  if (!v.IsInt64()) missing(key);
  return v.GetInt64();
}
bool flag(const value& object, const char* key) {
  const auto& v = member(object, key);
  if (!v.IsBool()) missing(key);
  return v.GetBool();
}
const value& array(const value& object, const char* key) {
  const auto& v = member(object, key);
  if (!v.IsArray()) missing(key);
  return v;
}
std::vector<std::string> strings(const value& object, const char* key) {
  std::vector<std::string> out;
  for (const auto& item : array(object, key).GetArray()) {
    if (!item.IsString()) missing(key);
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}
process_ref ref(const value& object, const char* key) {
  const auto& v = member(object, key);
  process_ref out;
  out.pid = static_cast<std::int32_t>(number(v, "pid"));
  const auto& start = member(v, "start");
  if (!start.IsUint64()) missing("start");
  out.start_ticks = start.GetUint64();
  return out;
}

pool_plan read_pool(const value& v) {
  pool_plan pool;
  pool.name = text(v, "name");
  pool.start_mode = number(v, "start_mode") == 1 ? config::start_mode::always_running
                                                 : config::start_mode::on_demand;
  if (has(v, "idle_timeout_ms")) pool.idle_timeout = duration(number(v, "idle_timeout_ms"));
  if (has(v, "periodic_restart_ms")) {
    pool.periodic_restart = duration(number(v, "periodic_restart_ms"));
  }
  pool.start_time_limit = duration(number(v, "start_time_limit_ms"));
  pool.shutdown_time_limit = duration(number(v, "shutdown_time_limit_ms"));
  pool.overlapped_recycle = flag(v, "overlapped_recycle");
  pool.unavailable = number(v, "tcp_level") == 1 ? config::unavailable_response::tcp_level
                                                 : config::unavailable_response::http_level;
  if (has(v, "queue_length")) pool.queue_length = number(v, "queue_length");
  if (has(v, "run_as_user")) pool.run_as_user = text(v, "run_as_user");
  if (has(v, "managed_user_comment")) pool.managed_user_comment = text(v, "managed_user_comment");
  if (has(v, "cpu_limit")) pool.cpu_limit = number(v, "cpu_limit");
  if (has(v, "private_memory_limit_kb"))
    pool.private_memory_limit_kb = number(v, "private_memory_limit_kb");
  pool.rapid_fail_max_crashes = number(v, "rapid_fail_max_crashes");
  pool.rapid_fail_interval = duration(number(v, "rapid_fail_interval_ms"));
  pool.single_hop = has(v, "single_hop") && flag(v, "single_hop");
  return pool;
}

site_plan read_plan(const value& v) {
  site_plan plan;
  plan.site_name = text(v, "site_name");
  plan.data_dir = text(v, "data_dir");
  plan.task_dir = text(v, "task_dir");
  plan.secrets_dir = text(v, "secrets_dir");
  plan.tmp_dir = text(v, "tmp_dir");
  plan.stdout_path = text(v, "stdout_path");
  plan.stderr_path = text(v, "stderr_path");
  plan.nginx_path = text(v, "nginx_path");
  plan.placeholder_app_path = text(v, "placeholder_app_path");
  plan.directory_security = flag(v, "directory_security");
  // Absent in handles of earlier releases: their fronts keep what they ran.
  if (has(v, "front_worker_connections"))
    plan.front_worker_connections = number(v, "front_worker_connections");
  for (const auto& b : array(v, "bindings").GetArray()) {
    binding_plan out;
    out.type = number(b, "https") == 1 ? config::binding_type::https : config::binding_type::http;
    out.ip = text(b, "ip");
    out.port = static_cast<std::int32_t>(number(b, "port"));
    out.hostname = text(b, "hostname");
    out.require_sni = flag(b, "require_sni");
    if (has(b, "certificate")) {
      const auto& c = member(b, "certificate");
      certificate_plan cert;
      const auto from = number(c, "from");
      if (from < 0 || from > 2) missing("from");
      cert.from = static_cast<certificate_plan::source>(from);
      cert.cert_file = text(c, "cert_file");
      cert.key_file = text(c, "key_file");
      cert.pfx_file = text(c, "pfx_file");
      cert.hostnames = strings(c, "hostnames");
      out.certificate = std::move(cert);
    }
    plan.bindings.push_back(std::move(out));
  }
  for (const auto& p : array(v, "pools").GetArray()) plan.pools.push_back(read_pool(p));
  for (const auto& a : array(v, "applications").GetArray()) {
    application_plan app;
    app.url_path = text(a, "url_path");
    app.physical_path = text(a, "physical_path");
    app.pool = text(a, "pool");
    for (const auto& d : array(a, "vdirs").GetArray()) {
      app.virtual_directories.push_back(
          virtual_directory_plan{text(d, "url_path"), text(d, "physical_path")});
    }
    plan.applications.push_back(std::move(app));
  }
  plan.ignored_options = strings(v, "ignored_options");
  if (has(v, "website")) plan.website = text(v, "website");
  return plan;
}

}  // namespace

std::string encode_state(const saved_site& state) {
  rapidjson::StringBuffer buffer;
  writer w(buffer);
  w.StartObject();
  put(w, "version", state_version);
  w.Key("plan");
  write_plan(w, state.plan);
  put(w, "front", state.front);
  w.Key("pools");
  w.StartArray();
  for (const auto& pool : state.pools) {
    w.StartObject();
    put(w, "status", static_cast<std::int64_t>(pool.status));
    put(w, "master", pool.master);
    put_bool(w, "idle", pool.idle);
    w.Key("apps");
    w.StartArray();
    for (const auto& app : pool.apps) {
      w.StartObject();
      put(w, "app", static_cast<std::int64_t>(app.app));
      put(w, "port", app.port);
      put(w, "process", app.process);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

saved_site decode_state(std::string_view bytes) {
  rapidjson::Document document;
  document.Parse(bytes.data(), bytes.size());
  if (document.HasParseError()) {
    throw std::runtime_error(std::string("saved state is not JSON: ") +
                             rapidjson::GetParseError_En(document.GetParseError()));
  }
  if (!document.IsObject() || !document.HasMember("version") || !document["version"].IsInt() ||
      document["version"].GetInt() < oldest_state_version ||
      document["version"].GetInt() > state_version) {
    throw std::runtime_error("saved state has an unknown version");
  }
  saved_site state;
  state.plan = read_plan(member(document, "plan"));
  state.front = ref(document, "front");
  for (const auto& p : array(document, "pools").GetArray()) {
    saved_pool pool;
    const auto status = number(p, "status");
    if (status < 0 || status > 4) missing("status");
    pool.status = static_cast<pool_status>(status);
    pool.master = ref(p, "master");
    // Older states have no "idle": their pools always ran.
    pool.idle = has(p, "idle") && flag(p, "idle");
    for (const auto& a : array(p, "apps").GetArray()) {
      saved_app app;
      const auto index = number(a, "app");
      if (index < 0 || static_cast<std::size_t>(index) >= state.plan.applications.size()) {
        missing("app");
      }
      app.app = static_cast<std::size_t>(index);
      app.port = static_cast<std::int32_t>(number(a, "port"));
      app.process = ref(a, "process");
      pool.apps.push_back(app);
    }
    state.pools.push_back(std::move(pool));
  }
  if (state.pools.size() != state.plan.pools.size()) missing("pools");
  return state;
}

std::string encode_environment(const site_plan& plan) {
  rapidjson::StringBuffer buffer;
  writer w(buffer);
  w.StartObject();
  for (const auto& pool : plan.pools) {
    w.Key(pool.name.c_str(), static_cast<rapidjson::SizeType>(pool.name.size()));
    w.StartObject();
    for (const auto& [name, text] : pool.env) {
      w.Key(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
      w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    }
    w.EndObject();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void decode_environment(std::string_view bytes, site_plan& plan) {
  rapidjson::Document document;
  document.Parse(bytes.data(), bytes.size());
  if (document.HasParseError() || !document.IsObject()) {
    throw std::runtime_error("saved environment is not a JSON object");
  }
  for (auto& pool : plan.pools) {
    auto it = document.FindMember(pool.name.c_str());
    if (it == document.MemberEnd() || !it->value.IsObject()) continue;
    for (const auto& entry : it->value.GetObject()) {
      if (!entry.value.IsString()) continue;
      pool.env[std::string(entry.name.GetString(), entry.name.GetStringLength())] =
          std::string(entry.value.GetString(), entry.value.GetStringLength());
    }
  }
}

}  // namespace nomad_iis::iis
