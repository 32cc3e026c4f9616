#pragma once
// Where each file of a site lives inside its data_dir. nginx runs with the
// data_dir as working directory, so sockets are named relative to it and
// stay short whatever the data_dir path (sun_path holds 108 bytes).

#include <cstddef>
#include <cstdint>
#include <string>

namespace nomad_iis::iis::layout {

inline std::string pool_instance(std::size_t pool) {
  return "pool-" + std::to_string(pool);
}

inline std::string conf(const std::string& data_dir, const std::string& instance) {
  return data_dir + "/" + instance + ".conf";
}
inline std::string pid_file(const std::string& data_dir, const std::string& instance) {
  return data_dir + "/run/" + instance + ".pid";
}
inline std::string alert_log(const std::string& data_dir, const std::string& instance) {
  return data_dir + "/logs/" + instance + ".log";
}
inline std::string temp_dir(const std::string& data_dir, const std::string& instance) {
  return data_dir + "/tmp/" + instance;
}
/// Relative to the data_dir (the working directory of every nginx): the name
/// the front connects to.
inline std::string socket_name(std::size_t pool) {
  return "run/" + pool_instance(pool) + ".sock";
}
/// The name the pool's socket is bound as, which its nginx listens on. A hard
/// link of socket_name(): an nginx whose parent changed (a plugin restart)
/// unlinks this one on exit, the front's name survives.
inline std::string pool_bind_name(std::size_t pool) {
  return "run/" + pool_instance(pool) + ".bind";
}
/// Where requests for an application process wait while its pool starts.
inline std::string app_wait_socket(std::size_t app) {
  return "run/app-" + std::to_string(app) + ".wait";
}
/// The front appends a byte per finished request of the pool (idle_timeout).
inline std::string activity_log(const std::string& data_dir, std::size_t pool) {
  return data_dir + "/run/activity-" + std::to_string(pool) + ".log";
}
/// The front appends "<pool> <status> <bytes>" per finished request
/// (request_log.hpp); the counted totals and offset are kept beside it.
inline std::string requests_log(const std::string& data_dir) {
  return data_dir + "/logs/requests.log";
}
/// The front appends a line when a request reaches a pool and one when it
/// ends (front_status.hpp); logs/ is the plugin's alone.
inline std::string open_requests_log(const std::string& data_dir) {
  return data_dir + "/logs/open-requests.log";
}
/// The front's stub_status, for the plugin only (logs/ is 0700).
inline std::string status_socket(const std::string& data_dir) {
  return data_dir + "/logs/status.sock";
}
inline std::string request_totals_file(const std::string& data_dir) {
  return data_dir + "/run/requests.totals";
}
/// Present while the pool is stopped (by request or rapid-fail protection).
/// Nomad keeps StartTask's driver state only, so a recovery learns it here.
inline std::string pool_stopped_marker(const std::string& data_dir, std::size_t pool) {
  return data_dir + "/run/pool-" + std::to_string(pool) + ".stopped";
}
/// Present while the front serves the pool's content itself (single hop).
inline std::string front_serves_marker(const std::string& data_dir, std::size_t pool) {
  return data_dir + "/run/pool-" + std::to_string(pool) + ".front";
}
/// Who keeps an idle pool's listening socket (or an app's wait socket) while
/// the plugin may be gone (see socket_keeper.hpp).
inline std::string pool_keeper_record(const std::string& data_dir, std::size_t pool) {
  return data_dir + "/run/keeper-pool-" + std::to_string(pool) + ".pid";
}
inline std::string app_keeper_record(const std::string& data_dir, std::size_t app) {
  return data_dir + "/run/keeper-app-" + std::to_string(app) + ".pid";
}
inline std::string site_lock(const std::string& data_dir) {
  return data_dir + "/run/site.lock";
}
inline std::string run_dir(const std::string& data_dir) {
  return data_dir + "/run";
}
inline std::string app_pid_file(const std::string& data_dir, std::size_t app) {
  return data_dir + "/run/app-" + std::to_string(app) + ".pid";
}
inline std::string cert_file(const std::string& data_dir, std::size_t binding) {
  return data_dir + "/certs/binding-" + std::to_string(binding) + ".crt";
}
inline std::string key_file(const std::string& data_dir, std::size_t binding) {
  return data_dir + "/certs/binding-" + std::to_string(binding) + ".key";
}

/// The pools' environment (may hold secrets, so not in the driver state).
inline std::string environment_file(const std::string& data_dir) {
  return data_dir + "/environment.json";
}

constexpr const char* front_instance = "front";

/// A front generation's pid file. Generation 0 is a front an earlier release
/// started (nginx bound its own sockets, so it reloads in place); the
/// plugin's own generations count from 1 and listen on members of the
/// bindings' SO_REUSEPORT groups (listen_group.hpp).
inline std::string front_pid_file(const std::string& data_dir, std::uint32_t generation) {
  if (generation == 0) return pid_file(data_dir, front_instance);
  return data_dir + "/run/front-" + std::to_string(generation) + ".pid";
}
/// A front generation's stub_status socket (see status_socket()).
inline std::string front_status_socket(const std::string& data_dir, std::uint32_t generation) {
  if (generation == 0) return status_socket(data_dir);
  return data_dir + "/logs/status-" + std::to_string(generation) + ".sock";
}

// ---- a node website (iis/website.hpp): its data_dir is the website's own ----

/// The tasks' fragments of the website's configuration, and their links.
inline std::string website_members_dir(const std::string& data_dir) {
  return data_dir + "/members";
}
/// A task's locations, included in every server of the website.
inline std::string website_member_locations(const std::string& data_dir, const std::string& key) {
  return data_dir + "/members/" + key + ".conf";
}
/// A task's http-level directives (its request log formats).
inline std::string website_member_http(const std::string& data_dir, const std::string& key) {
  return data_dir + "/members/" + key + ".http";
}
/// Relative to the website's data_dir: a link to the task's data_dir, so
/// the task's sockets keep short names ("members/<key>/run/pool-0.sock").
inline std::string website_member_link(const std::string& key) {
  return "members/" + key;
}

}  // namespace nomad_iis::iis::layout
