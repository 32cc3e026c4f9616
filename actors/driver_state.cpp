#include "actors/driver_state.hpp"

#include <stdexcept>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace nomad_iis {
namespace {

void put(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string get_string(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::string encode(const driver_state& state) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("version");
  w.Int(state.version);
  put(w, "task_id", state.task.task_id);
  put(w, "alloc_id", state.task.alloc_id);
  put(w, "task_name", state.task.task_name);
  put(w, "job_name", state.task.job_name);
  put(w, "job_id", state.task.job_id);
  put(w, "namespace", state.task.namespace_name);
  put(w, "group", state.task.group_name);
  put(w, "alloc_dir", state.task.alloc_dir);
  put(w, "stdout_path", state.task.stdout_path);
  put(w, "stderr_path", state.task.stderr_path);
  w.Key("started_at_ns");
  w.Int64(state.started_at_ns);
  put(w, "site", state.site);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

driver_state decode_driver_state(const std::string& bytes) {
  rapidjson::Document doc;
  doc.Parse(bytes.data(), bytes.size());
  if (doc.HasParseError() || !doc.IsObject())
    throw std::runtime_error("driver_state is not the JSON this driver writes");
  driver_state state;
  auto version = doc.FindMember("version");
  if (version == doc.MemberEnd() || !version->value.IsInt())
    throw std::runtime_error("driver_state has no version");
  state.version = version->value.GetInt();
  if (state.version != driver_state::current_version)
    throw std::runtime_error("driver_state version " + std::to_string(state.version) +
                             " is not supported");
  state.task.task_id = get_string(doc, "task_id");
  state.task.alloc_id = get_string(doc, "alloc_id");
  state.task.task_name = get_string(doc, "task_name");
  state.task.job_name = get_string(doc, "job_name");
  state.task.job_id = get_string(doc, "job_id");
  state.task.namespace_name = get_string(doc, "namespace");
  state.task.group_name = get_string(doc, "group");
  state.task.alloc_dir = get_string(doc, "alloc_dir");
  state.task.stdout_path = get_string(doc, "stdout_path");
  state.task.stderr_path = get_string(doc, "stderr_path");
  if (auto it = doc.FindMember("started_at_ns"); it != doc.MemberEnd() && it->value.IsInt64())
    state.started_at_ns = it->value.GetInt64();
  state.site = get_string(doc, "site");
  if (state.site.empty()) throw std::runtime_error("driver_state holds no site state");
  return state;
}

}  // namespace nomad_iis
