#pragma once
// A job's `config { ... }` block for driver "iis", with the same blocks and
// attributes as the original nomad-iis so existing job files run unchanged.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/binding.hpp"
#include "config/driver_config.hpp"
#include "config/duration.hpp"

namespace nomad_iis::config {

/// IIS attributes without a dedicated field; reported as ignored on Linux.
struct extension {
  std::string name;
  std::string value;
};

enum class start_mode { on_demand, always_running };
enum class unavailable_response { http_level, tcp_level };

struct application_pool {
  std::string name = "default";                        ///< at most 8 characters, unique per task
  std::optional<std::string> managed_pipeline_mode;    ///< Integrated | Classic
  std::optional<std::string> managed_runtime_version;  ///< v4.0 | v2.0 | None
  std::optional<config::start_mode> start_mode;
  std::optional<duration> idle_timeout;
  std::optional<bool> disable_overlapped_recycle;
  std::optional<duration> periodic_restart;
  std::optional<bool> enable_32bit_app_on_win64;
  std::optional<unavailable_response> service_unavailable_response;
  std::optional<std::int64_t> queue_length;
  std::optional<duration> start_time_limit;
  std::optional<duration> shutdown_time_limit;
  /// IIS's cpu.limit: at most this many 1/1000 of a percent of all CPUs
  /// (throttled through the pool's cgroup); 0 = none.
  std::optional<std::int64_t> cpu_limit;
  /// IIS's recycling.periodicRestart.privateMemory, in KB: a worker whose
  /// private memory passes it recycles the pool; 0 = none.
  std::optional<std::int64_t> private_memory_limit;
  /// ApplicationPoolIdentity | LocalSystem | LocalService | NetworkService | SpecificUser
  std::string identity = "ApplicationPoolIdentity";
  std::optional<std::string> username;
  std::optional<std::string> password;  ///< a secret: never logged
  std::vector<extension> extensions;
  /// Where the block was written, e.g. "applicationPool[1]" or "application_pool[0]",
  /// since the two spellings are merged; "" for the implicit default pool. Used in errors.
  std::string declared_at;
};

struct virtual_directory {
  std::string alias;  ///< without leading or trailing '/'; never empty
  std::string path;
  std::vector<extension> extensions;
};

struct application {
  std::string application_pool = "default";
  std::string alias;  ///< "" = site root; leading and trailing '/' are trimmed on decode
  std::string path;   ///< relative paths resolve against the task directory
  std::optional<bool> enable_preload;
  std::optional<bool> service_auto_start_enabled;
  std::optional<std::string> service_auto_start_provider;
  std::vector<virtual_directory> virtual_directories;
  std::vector<extension> extensions;
};

struct service_auto_start_provider {
  std::string name;
  std::string type;
};

struct task_config {
  std::optional<std::string> target_website;
  /// `application_pool` and the deprecated `applicationPool` blocks, merged.
  std::vector<application_pool> application_pools;
  std::vector<application> applications;  ///< at least one
  bool permit_iusr = true;
  std::vector<binding> bindings;  ///< 0..64
  std::vector<service_auto_start_provider> service_auto_start_providers;
};

namespace detail {
class fields;
}
class problem_list;

/// One `binding { ... }` block (the task config's, and a driver-config
/// website's); bad fields are recorded in `p`.
binding decode_binding(problem_list& p, const detail::fields& f);

/// Decodes the cty-msgpack bytes of StartTask's msgpack_driver_config.
/// Throws config_error naming the field path and the bad value.
task_config decode_task_config(std::string_view msgpack_bytes);

/// Applies nomad-iis's rules and the node's allow-lists: adds the implicit
/// "default" pool when an application uses it, drops pools no application
/// uses, checks pool names (<= 8 chars, unique), aliases (unique), identities
/// and users against the driver config, bindings (static port needs hostname,
/// https needs exactly one certificate source), target_website allow-list.
/// Also refuses what could not be turned into nginx config and file names
/// safely: aliases outside [A-Za-z0-9-._~!()/] (non-ASCII UTF-8 is fine) or
/// with "." / ".." segments, pool names outside [A-Za-z0-9-_.], malformed
/// hostnames and IP addresses, duplicate (ip, port, hostname) bindings.
/// Throws config_error on the first violation and then leaves config unchanged.
void validate(task_config& config, const driver_config& driver);

}  // namespace nomad_iis::config
