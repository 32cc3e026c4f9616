#pragma once
// Renders the nginx configuration files of a site: the front (one server per
// binding, one location per application and virtual directory, proxying to
// the pools) and one per pool that serves static content.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iis/model.hpp"

namespace nomad_iis::iis {

/// The `user` directive; rendered only when the plugin runs as root.
struct nginx_identity {
  std::string user;
  std::string group;
};

/// Where the front sends one URL prefix.
struct front_route {
  enum class kind { pool_socket, app_port, unavailable, files };
  std::string url_path;  ///< "/" or "/alias/"
  kind target = kind::pool_socket;
  std::string socket;      ///< pool_socket: relative to the data_dir
  std::string directory;   ///< files: the folder served at url_path
  std::int32_t port = 0;   ///< app_port: on 127.0.0.1
  std::size_t pool = 0;    ///< index of the pool; names the @pool_down_<n> fallback
  bool tcp_level = false;  ///< unavailable: close the connection instead of 503
  std::optional<std::uint64_t> max_body_bytes;  ///< web.config maxAllowedContentLength
  std::optional<duration> read_timeout;         ///< web.config requestTimeout
  /// Absolute path of the pool's activity log ("" = the pool never idles).
  std::string activity_log;
  /// app_port: when the port refuses (the app is idle or starting), the
  /// request waits on this unix socket until the backend starts the app and
  /// resets it, then goes to the port again ("" = straight to 503/444).
  std::string wait_socket;
  std::size_t app = 0;  ///< app_port: names the @app_wait_<n> and @app_retry_<n> locations
  duration wait_timeout = std::chrono::seconds(95);  ///< app_port: the longest start
};

/// The answer of a pool whose workers are gone (pool stopped or crashed).
struct pool_fallback {
  std::size_t pool = 0;
  std::string name;
  bool tcp_level = false;
};

/// Requests on one client connection of a front generation: a retired
/// generation's busy connections end within this many requests.
constexpr int generation_keepalive_requests = 1000;

struct front_conf {
  std::string site_name;
  std::string data_dir;
  /// Its pid file (layout::front_pid_file) and keepalive_requests; 0 = a
  /// front of an earlier release.
  std::uint32_t generation = 0;
  std::optional<nginx_identity> worker_identity;
  std::vector<binding_plan> bindings;  ///< https ones use layout::cert_file/key_file
  std::vector<front_route> routes;
  std::vector<pool_fallback> fallbacks;
  std::vector<std::string> denied_prefixes;  ///< URL prefixes answered with 404
  duration shutdown_time_limit = std::chrono::seconds(90);
  /// Absolute path of the request log the metrics count (request_log.hpp);
  /// "" = none.
  std::string requests_log;
  /// Absolute path of the open-requests log (front_status.hpp); "" = none.
  std::string open_requests_log;
  /// The unix socket serving stub_status, relative to the data_dir (nginx's
  /// working directory: an absolute path may not fit sun_path); "" = none.
  std::string status_socket;
  int worker_processes = 1;
  std::int64_t worker_connections = 1024;
  /// With a `files` route: the MIME types file ("" = a small built-in table).
  std::string mime_types_path = "/etc/nginx/mime.types";
};

/// One task's part of a node website (iis/website.hpp): its routes, what it
/// denies and its request log, rendered into fragments the website includes.
struct front_member {
  /// Names its @pool_down / @app_wait locations and log formats apart from
  /// the other members' ("m<key>_").
  std::string label;
  std::vector<front_route> routes;
  std::vector<pool_fallback> fallbacks;
  std::vector<std::string> denied_prefixes;
  std::string requests_log;
  /// Start and end lines of its requests (front_status.hpp); "" = none.
  std::string open_requests_log;
};

/// A node website: the bindings, the root folder, and the members'
/// fragments included from `members_dir`.
struct website_conf {
  std::string site_name;
  std::string data_dir;
  std::optional<nginx_identity> worker_identity;
  std::vector<binding_plan> bindings;
  std::string root_dir;  ///< served at "/"; "" = 404
  std::string members_dir;
  duration shutdown_time_limit = std::chrono::seconds(90);
  std::int64_t worker_connections = 1024;
};

struct pool_conf {
  std::string site_name;
  std::string pool_name;
  std::size_t pool = 0;
  std::string data_dir;
  std::optional<nginx_identity> worker_identity;
  int worker_processes = 1;
  std::int64_t backlog = 1000;  ///< queue_length
  /// The socket nginx listens on: inherited from the backend (NGINX="3;"),
  /// which matches it by this exact name.
  std::string listen_socket;
  /// url_path → physical directory, for every static application and vdir.
  std::vector<std::pair<std::string, std::string>> locations;
  std::vector<std::string> denied_prefixes;
  std::string mime_types_path = "/etc/nginx/mime.types";  ///< "" = a small built-in table
  duration shutdown_time_limit = std::chrono::seconds(90);
};

std::string render_front_conf(const front_conf& conf);
/// The distinct addresses (ip, port) a front listens on, in the order its
/// configuration names them.
std::vector<std::pair<std::string, std::int32_t>> listen_addresses(
    const std::vector<binding_plan>& bindings);
std::string render_pool_conf(const pool_conf& conf);
std::string render_website_conf(const website_conf& conf);
/// A member's locations (included in each server of the website).
std::string render_member_locations(const front_member& member);
/// A member's http-level directives (its upstreams and request log formats).
std::string render_member_http(const front_member& member);

/// URL prefixes that must never be served: "/secrets/" and every prefix that
/// maps into the task's secrets directory through an application or vdir.
std::vector<std::string> denied_url_prefixes(const site_plan& plan);

/// `text` as an nginx string literal. Throws std::invalid_argument for '$'
/// and control characters, which nginx strings cannot carry literally.
std::string nginx_quote(std::string_view text);

/// The nginx command line for one instance of a site.
std::vector<std::string> nginx_arguments(const std::string& nginx_path, const std::string& data_dir,
                                         const std::string& instance);

}  // namespace nomad_iis::iis
