#pragma once
// The IIS model as the backend sees it: a site with bindings, application
// pools, applications and virtual directories, fully resolved (absolute
// paths, numeric ports, Unix users). Built by backend::plan_site() from the
// job's config and what Nomad told us about the task.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/task_config.hpp"

namespace nomad_iis::iis {

using duration = std::chrono::milliseconds;

/// A process identified beyond PID reuse: the start time is field 22 of
/// /proc/<pid>/stat (clock ticks since boot).
struct process_ref {
  std::int32_t pid = 0;
  std::uint64_t start_ticks = 0;
  bool operator==(const process_ref& other) const {
    return pid == other.pid && start_ticks == other.start_ticks;
  }
};

/// One group port as Nomad allocated it (TaskConfig.resources.ports).
struct port_mapping {
  std::string label;
  std::int32_t value = 0;
  std::int32_t to = 0;
  std::string host_ip;
};

/// Limits for a cgroup (cgroup.hpp); 0 or "" leaves a limit unset.
struct resource_limits {
  std::int64_t cpu_shares = 0;        ///< resources.cpu: cpu.shares / cpu.weight
  std::int64_t memory_max_bytes = 0;  ///< hard: memory_max, else memory
  std::int64_t memory_low_bytes = 0;  ///< soft: memory, when memory_max is above it
  std::string cpuset_cpus;            ///< resources.cores ("0-1,3")
  std::int64_t cpu_quota_us = 0;      ///< per cpu_period_us (a pool's cpu_limit)
  std::int64_t cpu_period_us = 100000;

  bool any() const {
    return cpu_shares > 0 || memory_max_bytes > 0 || memory_low_bytes > 0 || !cpuset_cpus.empty() ||
           cpu_quota_us > 0;
  }
};

enum class cgroup_version { none, v1, v2 };

/// A cgroup across the hierarchies in use (cgroup.hpp works on it): one
/// directory per v1 controller (co-mounted controllers share one) or the one
/// v2 directory (key "").
struct cgroup_dirs {
  cgroup_version version = cgroup_version::none;
  std::map<std::string, std::string> by_controller;

  bool empty() const { return by_controller.empty(); }
  /// Each directory once.
  std::vector<std::string> unique_dirs() const;
  /// The directory that holds `controller`'s files; "" when not in use.
  std::string dir_of(const std::string& controller) const;
};

/// What Nomad told us about the task (StartTask's TaskConfig, minus the job config).
struct task_context {
  std::string task_id;  ///< "<alloc>/<task>/<hex>": never a path
  std::string alloc_id;
  std::string task_name;
  std::string job_name;
  std::string job_id;
  std::string namespace_name;
  std::string group_name;
  std::string alloc_dir;  ///< holds alloc/ and <task>/
  std::string stdout_path;
  std::string stderr_path;
  std::string user;
  std::map<std::string, std::string> env;
  std::vector<port_mapping> ports;
  /// TaskConfig.resources as cgroup limits (Nomad's memory oversubscription:
  /// memory_max is the hard limit and memory the soft one).
  resource_limits resources;

  /// <alloc_dir>/<task_name>
  std::string task_dir() const { return alloc_dir + "/" + task_name; }
};

enum class pool_status { starting, started, stopping, stopped, unknown };

/// "Starting", "Started", ... as IIS and the Management API spell them.
const char* to_string(pool_status status);

struct certificate_plan {
  enum class source { pem_files, pfx_file, self_signed };
  source from = source::self_signed;
  std::string cert_file;  ///< pem_files
  std::string key_file;   ///< pem_files
  std::string pfx_file;   ///< pfx_file
  std::string pfx_password;
  std::vector<std::string> hostnames;  ///< self_signed SAN; always includes localhost
};

struct binding_plan {
  config::binding_type type = config::binding_type::http;
  std::string ip;  ///< "" = all addresses
  std::int32_t port = 0;
  std::string hostname;  ///< "" = any host
  bool require_sni = false;
  std::optional<certificate_plan> certificate;  ///< set for https
};

struct virtual_directory_plan {
  std::string url_path;       ///< "/app/images/"
  std::string physical_path;  ///< absolute
};

struct application_plan {
  std::string url_path;       ///< "/" or "/alias/"
  std::string physical_path;  ///< absolute
  std::string pool;
  std::vector<virtual_directory_plan> virtual_directories;
};

struct pool_plan {
  std::string name;
  config::start_mode start_mode = config::start_mode::on_demand;
  std::optional<duration> idle_timeout;
  std::optional<duration> periodic_restart;
  duration start_time_limit = std::chrono::seconds(90);     ///< IIS default
  duration shutdown_time_limit = std::chrono::seconds(90);  ///< IIS default
  bool overlapped_recycle = true;
  config::unavailable_response unavailable = config::unavailable_response::http_level;
  std::optional<std::int64_t> queue_length;
  std::optional<std::string> run_as_user;  ///< applied only when the plugin is root
  /// Non-empty when run_as_user is an account the driver makes for this pool
  /// (ApplicationPoolIdentity as root): the comment that marks it ours. It is
  /// created when the site starts and removed when the site is destroyed.
  std::string managed_user_comment;
  std::map<std::string, std::string> env;  ///< task env + TMP/TEMP
  /// cpu_limit (IIS units: 1/1000 of a percent of all CPUs) as a quota on
  /// the pool's cgroup; 0 = none.
  std::int64_t cpu_limit = 0;
  /// private_memory_limit in KB (IIS's privateMemory): a worker above it
  /// recycles the pool; 0 = none.
  std::int64_t private_memory_limit_kb = 0;
  std::int64_t rapid_fail_max_crashes = 5;
  duration rapid_fail_interval = std::chrono::minutes(5);
  /// The site's only pool, on http bindings, with single_hop_static on:
  /// while its content is static the front serves it (its workers as the
  /// pool's user) instead of proxying to the pool's own nginx.
  bool single_hop = false;
};

/// An application that web.config hands to a process (aspNetCore or httpPlatform).
struct process_handler {
  enum class kind { asp_net_core, http_platform };
  kind type = kind::asp_net_core;
  std::string process_path;  ///< as written ("dotnet", ".\\MyApp.exe")
  std::string arguments;     ///< as written, may hold %HTTP_PLATFORM_PORT%
  std::vector<std::pair<std::string, std::string>> environment;
  std::optional<duration> startup_time_limit;   ///< startupTimeLimit (seconds)
  std::optional<duration> shutdown_time_limit;  ///< aspNetCore shutdownTimeLimit (seconds)
  std::optional<duration> request_timeout;      ///< requestTimeout ("hh:mm:ss")
  bool stdout_log_enabled = false;
  std::string stdout_log_file;  ///< stdoutLogFile, as written
  std::string hosting_model;    ///< aspNetCore hostingModel, lower case; "" when absent

  /// "aspNetCore" or "httpPlatform", as the element is named.
  const char* element_name() const;
};

struct site_plan {
  std::string site_name;  ///< unique and filesystem-safe, derived from alloc id + task name
  std::string data_dir;   ///< this site's own folder for configs, sockets, certs, pid files
  std::string task_dir;
  std::string secrets_dir;
  std::string tmp_dir;
  std::string stdout_path;
  std::string stderr_path;
  std::string nginx_path;
  std::string placeholder_app_path;  ///< "" = no placeholder copy
  bool directory_security = true;
  std::vector<binding_plan> bindings;
  std::vector<pool_plan> pools;
  std::vector<application_plan> applications;
  /// The task's limits (TaskConfig.resources) for its cgroup.
  resource_limits resources;
  /// The task's cgroup (the front and each pool get a leaf named as their
  /// nginx instance); empty when the machine offers none we can use, and
  /// cgroup_unavailable says why. Not in the driver state: a recovery reads
  /// it back from the site's data_dir (site_host::load_site).
  cgroup_dirs cgroup;
  std::string cgroup_unavailable;
  /// Options that have no meaning on this backend, reported once as a task event.
  std::vector<std::string> ignored_options;
  /// A task's plan: the node website (target_website) its applications join
  /// instead of a front of their own ("" = its own, on `bindings`). The
  /// website's own plan (plan_website): the website's name.
  std::string website;
  /// The website's own plan: the folder served at "/" ("" = none, 404).
  std::string website_root;
  /// Connections one front worker holds (front_worker_connections); handles
  /// of earlier releases ran 4096.
  std::int64_t front_worker_connections = 4096;
};

/// The longest shutdown_time_limit of the site's pools (0 without pools):
/// how long the front's workers finish requests in progress when it quits.
duration longest_shutdown_time_limit(const site_plan& plan);

/// "90s" or "1500ms".
std::string seconds_text(duration value);
/// "1.2.3.4:80", "[::1]:80", "*:80".
std::string address_text(const std::string& ip, std::int32_t port);
std::string join(const std::vector<std::string>& items, const char* separator = ", ");

}  // namespace nomad_iis::iis
