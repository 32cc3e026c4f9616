#pragma once
// Message types exchanged by the actors and sent in by the adapters. Plain
// structs with inspect() overloads (CAF 0.17 form) so CAF can render them.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "config/driver_config.hpp"
#include "iis/model.hpp"

namespace nomad_iis::msg {

// ---- driver configuration and fingerprint ----

/// SetConfig, after the adapter decoded it. `long_lived` is true when Nomad
/// sent nomad_config (the agent's real instance, not a validation launch).
struct set_driver_config {
  config::driver_config driver;
  bool long_lived = false;
};

struct fingerprint_attribute {
  enum class kind : std::uint8_t { string_value, int_value, bool_value };
  kind what = kind::string_value;
  std::string string_value;
  std::int64_t int_value = 0;
  bool bool_value = false;
};

enum class health : std::uint8_t { undetected = 0, unhealthy = 1, healthy = 2 };

struct fingerprint {
  std::map<std::string, fingerprint_attribute> attributes;
  msg::health health = health::undetected;
  std::string description;
};

/// Facts the adapters contribute to the fingerprint (Management API state).
struct api_status {
  bool management_api_enabled = false;
  std::int64_t management_api_port = 0;
};

// ---- task lifecycle ----

struct start_task {
  iis::task_context task;
  std::string config_msgpack;
};

/// Reply to start_task: what goes into TaskHandle.driver_state.
struct started_task {
  std::string driver_state;
};

/// RecoverTask: `task` comes from handle.config (msgpack config may be empty).
struct recover_task {
  iis::task_context task;
  std::string driver_state;
};

struct wait_task {
  std::string task_id;
};

struct exit_result {
  std::int32_t exit_code = 0;
  std::int32_t signal = 0;
  bool oom_killed = false;
  std::string err;  ///< non-empty makes Nomad count the exit as a failure
};

struct stop_task {
  std::string task_id;
  std::chrono::milliseconds timeout{5000};
  std::string signal;
};

struct destroy_task {
  std::string task_id;
  bool force = false;
};

struct inspect_task {
  std::string task_id;
};

enum class task_state : std::uint8_t { unknown = 0, running = 1, exited = 2 };

struct task_status {
  std::string id;
  std::string name;
  task_state state = task_state::unknown;
  caf::timestamp started_at{};
  caf::timestamp completed_at{};  ///< zero while running
  exit_result result;
  std::map<std::string, std::string> attributes;
};

struct signal_task {
  std::string task_id;
  std::string signal;
};

// ---- statistics and events ----

struct sample_stats {
  std::string task_id;
};

/// Resource usage with Nomad's units: percent of one core, MHz, bytes.
struct resource_usage {
  double user_percent = 0;
  double system_percent = 0;
  double percent = 0;
  double total_ticks = 0;
  std::uint64_t rss_bytes = 0;
};

struct task_stats {
  std::string task_id;
  caf::timestamp timestamp{};
  resource_usage total;
  std::map<std::int32_t, resource_usage> by_pid;
  std::map<std::string, resource_usage> by_pool;
};

struct task_event {
  std::string task_id;
  std::string alloc_id;
  std::string task_name;
  caf::timestamp timestamp{};
  std::string message;
  std::map<std::string, std::string> annotations;
};

// ---- inspect overloads ----

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, set_driver_config& x) {
  // The driver config holds no secrets but is large; render its key facts only.
  return f(caf::meta::type_name("set_driver_config"), x.driver.enabled, x.long_lived);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fingerprint_attribute& x) {
  return f(caf::meta::type_name("fingerprint_attribute"), x.what, x.string_value, x.int_value,
           x.bool_value);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fingerprint& x) {
  return f(caf::meta::type_name("fingerprint"), x.attributes, x.health, x.description);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, api_status& x) {
  return f(caf::meta::type_name("api_status"), x.management_api_enabled, x.management_api_port);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, start_task& x) {
  return f(caf::meta::type_name("start_task"), x.task, x.config_msgpack);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, started_task& x) {
  return f(caf::meta::type_name("started_task"), x.driver_state);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recover_task& x) {
  return f(caf::meta::type_name("recover_task"), x.task, x.driver_state);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_task& x) {
  return f(caf::meta::type_name("wait_task"), x.task_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_result& x) {
  return f(caf::meta::type_name("exit_result"), x.exit_code, x.signal, x.oom_killed, x.err);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stop_task& x) {
  return f(caf::meta::type_name("stop_task"), x.task_id, x.timeout, x.signal);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, destroy_task& x) {
  return f(caf::meta::type_name("destroy_task"), x.task_id, x.force);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inspect_task& x) {
  return f(caf::meta::type_name("inspect_task"), x.task_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_status& x) {
  return f(caf::meta::type_name("task_status"), x.id, x.name, x.state, x.started_at, x.completed_at,
           x.result, x.attributes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, signal_task& x) {
  return f(caf::meta::type_name("signal_task"), x.task_id, x.signal);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sample_stats& x) {
  return f(caf::meta::type_name("sample_stats"), x.task_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_usage& x) {
  return f(caf::meta::type_name("resource_usage"), x.user_percent, x.system_percent, x.percent,
           x.total_ticks, x.rss_bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_stats& x) {
  return f(caf::meta::type_name("task_stats"), x.task_id, x.timestamp, x.total, x.by_pid,
           x.by_pool);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_event& x) {
  return f(caf::meta::type_name("task_event"), x.task_id, x.alloc_id, x.task_name, x.timestamp,
           x.message, x.annotations);
}

}  // namespace nomad_iis::msg

namespace nomad_iis::iis {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, port_mapping& x) {
  return f(caf::meta::type_name("port_mapping"), x.label, x.value, x.to, x.host_ip);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_context& x) {
  return f(caf::meta::type_name("task_context"), x.task_id, x.alloc_id, x.task_name, x.job_name,
           x.job_id, x.namespace_name, x.group_name, x.alloc_dir, x.stdout_path, x.stderr_path,
           x.user, x.env, x.ports);
}

}  // namespace nomad_iis::iis

namespace nomad_iis::msg {

/// The web server probe's answer, sent to the fingerprinter by the backend thread.
struct probe_result {
  bool healthy = false;
  std::string version;
  std::string reason;
  std::string cgroup_version;  ///< "v1", "v2", "" = no limits enforced
  std::string cgroup_mountpoint;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, probe_result& x) {
  return f(caf::meta::type_name("probe_result"), x.healthy, x.version, x.reason, x.cgroup_version,
           x.cgroup_mountpoint);
}

}  // namespace nomad_iis::msg
