#pragma once
// The agent-side plugin configuration: every option of the original
// nomad-iis plus what the Linux backend needs.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/binding.hpp"
#include "config/duration.hpp"

namespace nomad_iis::config {

/// The `procdump { ... }` block. On Linux the dump tool is gdb's gcore.
struct procdump_config {
  std::string binary_path = "/usr/bin/gcore";
  bool accept_eula = false;  ///< kept for job-file compatibility; gcore has no EULA
};

/// A `website { ... }` block: a node-level site the operator declares. Tasks
/// whose target_website names it (and allowed_target_websites allows it) add
/// their applications to it instead of getting a site of their own.
struct website_config {
  std::string name;  ///< [A-Za-z0-9._-], unique
  /// Static ports only (there is no group network at node level); https
  /// takes cert_file + key_file (absolute) or use_self_signed.
  std::vector<binding> bindings;
  /// Served at "/" (no task may claim it; absolute); nullopt = "/" answers 404.
  std::optional<std::string> physical_path;
};

struct driver_config {
  bool enabled = true;
  duration fingerprint_interval = std::chrono::seconds(30);  ///< at least 10s
  bool directory_security = true;
  std::vector<std::string> allowed_target_websites;
  /// The node's websites (`website` blocks) a target_website may name.
  std::vector<website_config> websites;
  std::vector<std::string> allowed_apppool_identities{"ApplicationPoolIdentity"};
  std::vector<std::string> allowed_apppool_users;
  /// Absolute host folders an application or virtual directory may name
  /// (normalised, no trailing '/'). Served as they are: the driver changes
  /// neither their owner, mode nor ACLs.
  std::vector<std::string> allowed_host_paths;
  /// Copied into an empty application folder; "" disables the copy.
  std::string placeholder_app_path = "/var/www/html";
  std::optional<procdump_config> procdump;

  // ---- Linux backend ----
  std::string nginx_path = "/usr/sbin/nginx";
  std::string chromium_path = "/usr/bin/chromium";
  /// Per-task nginx configs, sockets and pid files. "" = /var/lib/nomad_iis for
  /// root, $TMPDIR/nomad_iis-<uid> otherwise (resolved by effective_data_dir()).
  std::string data_dir;
  /// Rapid-fail protection: this many worker crashes within the interval stop the pool.
  std::int64_t rapid_fail_max_crashes = 5;
  duration rapid_fail_interval = std::chrono::minutes(5);
  /// A site whose only pool serves static files over http is served by one
  /// nginx (the front's workers as the pool's user) instead of two.
  bool single_hop_static = true;
  /// Connections one worker of a site's front holds at once (a client's, and
  /// an application's or pool's behind it). nginx sets them all up when the
  /// worker starts, about 0.4 KiB each, whether used or not.
  std::int64_t front_worker_connections = 1024;

  // ---- Management API limits ----
  std::uint64_t upload_max_bytes = 4ull << 30;
  std::uint64_t zip_max_entries = 100000;
  std::uint64_t zip_max_uncompressed_bytes = 8ull << 30;
  /// Most an uploaded zip entry may inflate per compressed byte (past 1 MiB); 0 = no limit.
  std::uint64_t zip_max_ratio = 200;
  /// Whether the Management API may read or write the task's secrets/ folder.
  bool allow_secrets_access = false;
  std::int64_t screenshot_concurrency = 2;
  duration screenshot_timeout = std::chrono::seconds(30);
  std::int64_t procdump_concurrency = 2;
  /// From a request's first byte to the end of its headers; slower clients get 408.
  duration request_header_timeout = std::chrono::seconds(10);
  /// Open connections one source address may hold; past it, new ones get 503.
  std::int64_t management_api_max_connections_per_client = 512;

  /// The gcore path in effect: procdump.binary_path or the default.
  std::string dump_tool_path() const {
    return procdump ? procdump->binary_path : procdump_config{}.binary_path;
  }
  /// The website block named `name`; nullptr when none is declared.
  const website_config* find_website(const std::string& name) const;
  /// data_dir with its default applied (default_data_dir for geteuid() and $TMPDIR).
  std::string effective_data_dir() const;
};

/// The data_dir default for a user: /var/lib/nomad_iis for root (uid 0), else
/// "<tmpdir or /tmp>/nomad_iis-<uid>" (tmpdir is used only when absolute).
std::string default_data_dir(std::uint32_t uid, std::string_view tmpdir);

/// Decodes cty-msgpack bytes sent by SetConfig. Empty bytes give the defaults.
/// Throws config_error naming the field on a wrong type or an invalid value.
driver_config decode_driver_config(std::string_view msgpack_bytes);

}  // namespace nomad_iis::config
