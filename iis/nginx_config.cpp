#include "iis/nginx_config.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "iis/site_layout.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

/// The access log on the task's stdout, which nginx reopens on every start
/// and reload (see the front actor's reload for why that cannot block).
/// Buffered: one write per request to the FIFO cost the site more than half
/// its throughput (8.5k against 16k req/s measured). At most 4 KiB per
/// write (PIPE_BUF) keeps each write atomic, so lines never interleave with
/// the apps' own output on the same FIFO; lines show within a second.
constexpr const char* stdout_log = "/dev/stdout combined buffer=4k flush=1s";

std::string seconds(duration value) {
  const auto count = std::chrono::duration_cast<std::chrono::seconds>(value).count();
  return std::to_string(std::max<long long>(count, 1)) + "s";
}

std::string listen_address(const std::string& ip, std::int32_t port) {
  if (ip.empty()) return std::to_string(port);
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

void render_temp_paths(std::ostringstream& out, const std::string& data_dir,
                       const std::string& instance) {
  const std::string base = layout::temp_dir(data_dir, instance);
  out << "  client_body_temp_path " << nginx_quote(base + "/client_body") << ";\n"
      << "  proxy_temp_path " << nginx_quote(base + "/proxy") << ";\n"
      << "  fastcgi_temp_path " << nginx_quote(base + "/fastcgi") << ";\n"
      << "  uwsgi_temp_path " << nginx_quote(base + "/uwsgi") << ";\n"
      << "  scgi_temp_path " << nginx_quote(base + "/scgi") << ";\n";
}

void render_main(std::ostringstream& out, const std::string& data_dir, const std::string& instance,
                 const std::string& pid_file, const std::optional<nginx_identity>& identity,
                 int workers, std::int64_t worker_connections, duration shutdown_time_limit) {
  out << "worker_processes " << workers
      << ";\n"
      // Old workers of a reload (recycle) get this long to finish their requests.
      << "worker_shutdown_timeout " << seconds(shutdown_time_limit) << ";\n"
      << "pid " << nginx_quote(pid_file) << ";\n"
      << "error_log stderr warn;\n"
      // A second, quiet log we read ourselves: start-up failures ([emerg]) and
      // worker crashes ([alert] "worker process N exited on signal S").
      << "error_log " << nginx_quote(layout::alert_log(data_dir, instance)) << " alert;\n";
  if (identity) {
    out << "user " << nginx_quote(identity->user) << " " << nginx_quote(identity->group) << ";\n";
  }
  out << "worker_rlimit_nofile " << worker_connections * 2 << ";\n"
      << "events {\n  worker_connections " << worker_connections << ";\n}\n";
}

/// IIS never serves web.config (request filtering).
constexpr const char* web_config_denied =
    "    location ~* \"(^|/)web\\.config$\" { return 404; }\n";

void render_denied(std::ostringstream& out, const std::vector<std::string>& denied,
                   const std::string& indent) {
  std::set<std::string> exact;
  for (const auto& prefix : denied) {
    out << indent << "location ^~ " << nginx_quote(prefix) << " { return 404; }\n";
    std::string bare = prefix;
    while (bare.size() > 1 && bare.back() == '/') bare.pop_back();
    if (bare != prefix && exact.insert(bare).second) {
      out << indent << "location = " << nginx_quote(bare) << " { return 404; }\n";
    }
  }
}

/// A folder as `alias` takes it for a location ending in '/'.
std::string folder_path(std::string dir) {
  if (dir.empty() || dir.back() != '/') dir += '/';
  return dir;
}

bool serves_files(const std::vector<front_route>& routes) {
  return std::any_of(routes.begin(), routes.end(), [](const front_route& route) {
    return route.target == front_route::kind::files;
  });
}

bool is_denied(const std::string& url_path, const std::vector<std::string>& denied) {
  return std::find(denied.begin(), denied.end(), url_path) != denied.end();
}

/// The request log's buffering: one write per 64 KiB or second (a whole
/// number of lines, appended: lines of two workers never mix).
constexpr const char* requests_buffer = " buffer=64k flush=1s";

/// The request log line of a pool ("<pool> <status> <bytes>", request_log.hpp).
std::string requests_format(const std::string& label, std::size_t pool) {
  return "nomad_iis_requests_" + label + std::to_string(pool);
}

/// The open-requests log's end line format of a member (one per http block).
std::string end_format(const std::string& label) {
  return label.empty() ? "nomad_iis_end" : "nomad_iis_end_" + label;
}

/// A location's own logs: its pool's request log line, with an idle timeout
/// the pool's activity log, and the open-requests log's end line (a
/// location's access_log replaces the inherited ones, so the task's stdout
/// again too).
void render_logs(std::ostringstream& out, const front_member& member, std::size_t pool,
                 const std::string& activity_log) {
  const auto& requests_log = member.requests_log;
  if (requests_log.empty() && activity_log.empty() && member.open_requests_log.empty()) return;
  out << "      access_log " << stdout_log << ";\n";
  if (!requests_log.empty())
    out << "      access_log " << nginx_quote(requests_log) << " "
        << requests_format(member.label, pool) << requests_buffer << ";\n";
  if (!activity_log.empty())
    out << "      access_log " << nginx_quote(activity_log)
        << " nomad_iis_activity buffer=4k flush=1s;\n";
  if (!member.open_requests_log.empty())
    out << "      access_log " << nginx_quote(member.open_requests_log) << " "
        << end_format(member.label) << requests_buffer << ";\n";
}

void render_logs(std::ostringstream& out, const front_member& member, const front_route& route) {
  render_logs(out, member, route.pool, route.activity_log);
}

/// The open-requests log's start line of a pool: the subrequest that
/// auth_request makes at the access phase, logged (log_subrequest) and
/// answered 204 at once, so the request goes on.
std::string start_uri(const std::string& label, std::size_t pool) {
  return "/__nomad_iis/start/" + label + std::to_string(pool);
}

void render_start(std::ostringstream& out, const front_member& member, const front_route& route) {
  if (!member.open_requests_log.empty())
    out << "      auth_request " << start_uri(member.label, route.pool) << ";\n";
}

void render_start_locations(std::ostringstream& out, const front_member& member) {
  if (member.open_requests_log.empty()) return;
  for (const auto& fallback : member.fallbacks)
    out << "    location = " << start_uri(member.label, fallback.pool) << " {\n"
        << "      internal;\n      log_subrequest on;\n"
        << "      access_log " << nginx_quote(member.open_requests_log) << " nomad_iis_start_"
        << member.label << fallback.pool << requests_buffer << ";\n"
        << "      return 204;\n    }\n";
}

void render_read_timeout(std::ostringstream& out, const std::optional<duration>& timeout) {
  if (!timeout) return;
  out << "      proxy_read_timeout " << seconds(*timeout) << ";\n"
      << "      proxy_send_timeout " << seconds(*timeout) << ";\n";
}

/// The upstream of a pool's socket or an application's port: its idle
/// connections are kept, so a request costs no connect here and no accept
/// there.
std::string upstream_name(const std::string& label, const front_route& route) {
  if (route.target == front_route::kind::pool_socket)
    return "nomad_iis_pool_" + label + std::to_string(route.pool);
  return "nomad_iis_port_" + label + std::to_string(route.port);
}

/// A pool's nginx only serves files, so a request may go again on a new
/// connection when a recycle's old workers close the kept one it was sent
/// on, POSTs too. An application closing a kept connection is retried by
/// nginx for idempotent requests only. Kept connections go after a second
/// unused: a pool's idle check counts the connections open to it (a long
/// request keeps a pool awake), and common app servers close theirs after a
/// few seconds (Node's 5s); under load a second is never reached.
std::string render_upstreams(const front_member& member) {
  std::ostringstream out;
  std::set<std::string> seen;
  for (const auto& route : member.routes) {
    if (route.target == front_route::kind::unavailable || route.target == front_route::kind::files)
      continue;
    const auto name = upstream_name(member.label, route);
    if (!seen.insert(name).second) continue;
    const std::string server = route.target == front_route::kind::pool_socket
                                   ? nginx_quote("unix:" + route.socket)
                                   : "127.0.0.1:" + std::to_string(route.port);
    out << "  upstream " << name << " {\n    server " << server
        << ";\n    keepalive 64;\n    keepalive_timeout 1s;\n  }\n";
  }
  return out.str();
}

/// The way a request takes while an application process is idle or starting:
/// the port refuses, so it waits on the backend's socket; the backend resets
/// that socket once the app accepts, and the request goes to the port again.
void render_app_waiting(std::ostringstream& out, const front_member& member,
                        const front_route& route) {
  const std::string& label = member.label;
  out << "    location @app_wait_" << label << route.app << " {  # the app starts on demand\n"
      << "      proxy_pass " << nginx_quote("http://unix:" + route.wait_socket + ":") << ";\n"
      << "      proxy_read_timeout " << seconds(route.wait_timeout) << ";\n"
      << "      error_page 502 504 = @app_retry_" << label << route.app << ";\n"
      << "      recursive_error_pages on;\n";
  render_logs(out, member, route);
  out << "    }\n"
      << "    location @app_retry_" << label << route.app << " {\n"
      << "      proxy_pass http://" << upstream_name(label, route) << ";\n"
      << "      error_page 502 = @pool_down_" << label << route.pool << ";\n";
  render_read_timeout(out, route.read_timeout);
  render_logs(out, member, route);
  out << "    }\n";
}

std::string render_routes(const front_member& conf) {
  std::ostringstream out;
  const std::string& label = conf.label;
  render_denied(out, conf.denied_prefixes, "    ");
  if (serves_files(conf.routes)) out << web_config_denied;
  std::set<std::size_t> waiting_apps;
  for (const auto& route : conf.routes) {
    if (is_denied(route.url_path, conf.denied_prefixes)) continue;
    out << "    location " << nginx_quote(route.url_path) << " {\n";
    switch (route.target) {
      case front_route::kind::pool_socket:
        out << "      proxy_pass http://" << upstream_name(label, route) << ";\n"
            << "      proxy_next_upstream error timeout non_idempotent;\n"
            << "      error_page 502 = @pool_down_" << label << route.pool << ";\n";
        break;
      case front_route::kind::app_port:
        out << "      proxy_pass http://" << upstream_name(label, route) << ";\n";
        if (route.wait_socket.empty()) {
          out << "      error_page 502 = @pool_down_" << label << route.pool << ";\n";
        } else {
          out << "      error_page 502 = @app_wait_" << label << route.app << ";\n"
              << "      recursive_error_pages on;\n";
        }
        break;
      case front_route::kind::unavailable:
        out << "      return " << (route.tcp_level ? 444 : 503) << ";\n";
        break;
      case front_route::kind::files:
        out << "      alias " << nginx_quote(folder_path(route.directory)) << ";\n";
        break;
    }
    if (route.max_body_bytes)
      out << "      client_max_body_size " << *route.max_body_bytes << ";\n";
    render_read_timeout(out, route.read_timeout);
    // A stopped pool's answers are its requests too, but no activity.
    if (route.target == front_route::kind::unavailable) {
      render_logs(out, conf, route.pool, "");
    } else {
      render_logs(out, conf, route);
      render_start(out, conf, route);
    }
    out << "    }\n";
  }
  for (const auto& route : conf.routes) {
    if (route.target != front_route::kind::app_port || route.wait_socket.empty()) continue;
    if (waiting_apps.insert(route.app).second) render_app_waiting(out, conf, route);
  }
  for (const auto& fallback : conf.fallbacks) {
    out << "    location @pool_down_" << label << fallback.pool << " {  # pool " << fallback.name
        << "\n"
        << "      return " << (fallback.tcp_level ? 444 : 503) << ";\n";
    render_logs(out, conf, fallback.pool, "");
    out << "    }\n";
  }
  render_start_locations(out, conf);
  return out.str();
}

/// A member's http-level parts: its upstreams, the log formats of its
/// request log lines and of its open-requests log's lines (front_status.hpp):
/// a start per pool, one end.
std::string render_http_parts(const front_member& member) {
  std::ostringstream out;
  out << render_upstreams(member);
  if (!member.requests_log.empty()) {
    for (const auto& fallback : member.fallbacks)
      out << "  log_format " << requests_format(member.label, fallback.pool) << " \""
          << fallback.pool << " $status $bytes_sent\";\n";
  }
  if (!member.open_requests_log.empty()) {
    for (const auto& fallback : member.fallbacks)
      out << "  log_format nomad_iis_start_" << member.label << fallback.pool
          << " \"s $pid $connection $connection_requests $msec $remote_addr $request_method "
             "$request_uri "
          << fallback.pool << "\";\n";
    out << "  log_format " << end_format(member.label)
        << " \"e $pid $connection $connection_requests\";\n";
  }
  return out.str();
}

/// nginx's stub_status on a unix socket in a folder only the plugin can
/// enter: connection counts for the metrics, reachable by no visitor and
/// counted in no request log.
std::string render_status_server(const std::string& status_socket) {
  if (status_socket.empty()) return {};
  return "  server {  # connection counts for the plugin\n    listen " +
         nginx_quote("unix:" + status_socket) +
         ";\n    access_log off;\n    location / { stub_status; }\n  }\n";
}

/// The bindings that share one listening address.
struct listen_group {
  std::string ip;
  std::int32_t port = 0;
  bool https = false;
  std::vector<std::size_t> bindings;
};

std::vector<listen_group> group_bindings(const std::vector<binding_plan>& bindings) {
  std::vector<listen_group> groups;
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    const auto& b = bindings[i];
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const listen_group& g) { return g.ip == b.ip && g.port == b.port; });
    if (it == groups.end()) {
      groups.push_back(listen_group{b.ip, b.port, b.type == config::binding_type::https, {}});
      it = groups.end() - 1;
    }
    it->bindings.push_back(i);
  }
  return groups;
}

void render_ssl(std::ostringstream& out, const std::string& data_dir, std::size_t binding) {
  out << "    ssl_certificate " << nginx_quote(layout::cert_file(data_dir, binding)) << ";\n"
      << "    ssl_certificate_key " << nginx_quote(layout::key_file(data_dir, binding)) << ";\n"
      << "    ssl_protocols TLSv1.2 TLSv1.3;\n";
}

const char* builtin_mime_types =
    "  types {\n"
    "    text/html html htm shtml;\n"
    "    text/css css;\n"
    "    text/plain txt;\n"
    "    text/xml xml;\n"
    "    application/javascript js mjs;\n"
    "    application/json json;\n"
    "    application/wasm wasm;\n"
    "    image/gif gif;\n"
    "    image/jpeg jpeg jpg;\n"
    "    image/png png;\n"
    "    image/svg+xml svg svgz;\n"
    "    image/x-icon ico;\n"
    "    image/webp webp;\n"
    "    font/woff woff;\n"
    "    font/woff2 woff2;\n"
    "    application/pdf pdf;\n"
    "  }\n";

/// How static content is served, a pool's nginx's or a single-hop front's.
std::string file_serving(const std::string& mime_types_path) {
  std::ostringstream out;
  if (!mime_types_path.empty()) {
    out << "  include " << nginx_quote(mime_types_path) << ";\n";
  } else {
    out << builtin_mime_types;
  }
  out << "  default_type application/octet-stream;\n"
      << "  sendfile on;\n"
      // A response's header and the start of its file in one segment: half
      // the packets and wakeups for a small file.
      << "  tcp_nopush on;\n"
      << "  absolute_redirect off;\n"
      // IIS default documents, both spellings (Linux file names are case-sensitive),
      // and the Debian placeholder page.
      << "  index Default.htm default.htm index.htm index.html Default.html default.html "
         "iisstart.htm index.nginx-debian.html;\n";
  return out.str();
}

}  // namespace

std::string nginx_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '$') {
      throw std::invalid_argument("\"" + std::string(text) +
                                  "\" holds a character nginx cannot take literally");
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::vector<std::string> nginx_arguments(const std::string& nginx_path, const std::string& data_dir,
                                         const std::string& instance) {
  return {nginx_path,
          "-p",
          data_dir + "/",
          "-c",
          layout::conf(data_dir, instance),
          "-e",
          layout::alert_log(data_dir, instance),
          "-g",
          "daemon off;"};
}

namespace {

/// What a task's front and a node website share: the main and http
/// settings, then one server per binding around `server_body`. `http_extra`
/// goes into the http block (log formats, includes).
struct front_skeleton {
  std::string heading;
  std::string data_dir;
  std::string pid_file;
  std::optional<nginx_identity> worker_identity;
  duration shutdown_time_limit{};
  int worker_processes = 1;
  std::int64_t worker_connections = 1024;
  const std::vector<binding_plan>* bindings = nullptr;
  std::string http_extra;
  std::string server_body;
};

/// The shared settings of a front_conf or a website_conf.
template <typename conf_type>
front_skeleton skeleton_of(std::string heading, const conf_type& conf) {
  front_skeleton skeleton;
  skeleton.heading = std::move(heading);
  skeleton.data_dir = conf.data_dir;
  skeleton.pid_file = layout::pid_file(conf.data_dir, layout::front_instance);
  skeleton.worker_identity = conf.worker_identity;
  skeleton.shutdown_time_limit = conf.shutdown_time_limit;
  skeleton.worker_connections = conf.worker_connections;
  skeleton.bindings = &conf.bindings;
  return skeleton;
}

std::string render_skeleton(const front_skeleton& conf) {
  std::ostringstream out;
  out << conf.heading;
  render_main(out, conf.data_dir, layout::front_instance, conf.pid_file, conf.worker_identity,
              conf.worker_processes, conf.worker_connections, conf.shutdown_time_limit);
  out << "http {\n"
      << "  access_log " << stdout_log << ";\n"
      << "  log_format nomad_iis_activity \".\";  # one byte per request: idle_timeout\n"
      << conf.http_extra;
  out << "  server_tokens off;\n"
      << "  client_max_body_size 30000000;  # IIS maxAllowedContentLength default\n"
      << "  map $http_host $nomad_iis_host {\n    \"\" $host;\n    default $http_host;\n  }\n"
      << "  map $http_upgrade $nomad_iis_connection {\n    default upgrade;\n    \"\" \"\";\n  }\n"
      << "  proxy_http_version 1.1;\n"
      << "  proxy_set_header Host $nomad_iis_host;\n"
      << "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
      << "  proxy_set_header X-Forwarded-Proto $scheme;\n"
      << "  proxy_set_header X-Real-IP $remote_addr;\n"
      << "  proxy_set_header Upgrade $http_upgrade;\n"
      << "  proxy_set_header Connection $nomad_iis_connection;\n"
      << "  proxy_read_timeout 120s;\n"
      << "  proxy_send_timeout 120s;\n";
  render_temp_paths(out, conf.data_dir, layout::front_instance);
  const auto& bindings = *conf.bindings;
  for (const auto& group : group_bindings(bindings)) {
    const std::string address = listen_address(group.ip, group.port);
    const std::string ssl = group.https ? " ssl http2" : "";
    std::optional<std::size_t> catch_all_binding;  // a binding without host name
    std::optional<std::size_t> plain_tls_binding;  // a certificate for clients without SNI
    for (std::size_t index : group.bindings) {
      if (bindings[index].hostname.empty() && !catch_all_binding) catch_all_binding = index;
      if (!bindings[index].require_sni && !plain_tls_binding) plain_tls_binding = index;
    }
    for (std::size_t index : group.bindings) {
      const auto& binding = bindings[index];
      out << "  server {  # binding " << index << "\n"
          << "    listen " << address << ssl
          << (catch_all_binding == index ? " default_server" : "") << ";\n"
          << "    server_name " << nginx_quote(binding.hostname) << ";\n";
      if (group.https) render_ssl(out, conf.data_dir, index);
      out << conf.server_body << "  }\n";
    }
    if (!catch_all_binding) {
      // IIS answers "400 Bad Request - Invalid Hostname" for unknown hosts; with
      // only SNI-requiring https bindings the handshake itself is refused.
      out << "  server {  # requests for other host names\n"
          << "    listen " << address << ssl << " default_server;\n"
          << "    server_name \"\";\n";
      if (group.https && plain_tls_binding) {
        render_ssl(out, conf.data_dir, *plain_tls_binding);
      } else if (group.https) {
        out << "    ssl_reject_handshake on;\n";
      }
      out << "    return 400;\n  }\n";
    }
  }
  out << "}\n";
  return out.str();
}

}  // namespace

std::vector<std::pair<std::string, std::int32_t>> listen_addresses(
    const std::vector<binding_plan>& bindings) {
  std::vector<std::pair<std::string, std::int32_t>> out;
  for (const auto& group : group_bindings(bindings)) out.emplace_back(group.ip, group.port);
  return out;
}

std::string render_front_conf(const front_conf& conf) {
  const front_member own{"",
                         conf.routes,
                         conf.fallbacks,
                         conf.denied_prefixes,
                         conf.requests_log,
                         conf.open_requests_log};
  auto skeleton = skeleton_of(
      "# nginx front of site " + conf.site_name + " (generated by nomad_iis; do not edit)\n", conf);
  if (!conf.requests_log.empty()) {
    // One line per request for the metrics: the front's own answers, and
    // each pool's in its locations.
    skeleton.http_extra = "  log_format nomad_iis_requests_front \"- $status $bytes_sent\";\n" +
                          render_http_parts(own) + "  access_log " +
                          nginx_quote(conf.requests_log) + " nomad_iis_requests_front" +
                          requests_buffer + ";\n";
  } else {
    skeleton.http_extra = render_http_parts(own);
  }
  skeleton.http_extra += render_status_server(conf.status_socket);
  skeleton.pid_file = layout::front_pid_file(conf.data_dir, conf.generation);
  if (conf.generation > 0) {
    // A retired generation keeps its clients until each connection's
    // requests run out and nginx answers "Connection: close".
    skeleton.http_extra +=
        "  keepalive_requests " + std::to_string(generation_keepalive_requests) + ";\n";
  }
  if (serves_files(conf.routes)) {
    skeleton.http_extra += file_serving(conf.mime_types_path);
    skeleton.worker_processes = conf.worker_processes;
  }
  skeleton.server_body = render_routes(own);
  return render_skeleton(skeleton);
}

std::string render_website_conf(const website_conf& conf) {
  auto skeleton = skeleton_of(
      "# nginx of node website " + conf.site_name + " (generated by nomad_iis; do not edit)\n",
      conf);
  // Each task's fragments: nginx reads them on every start and reload.
  skeleton.http_extra = "  include " + nginx_quote(conf.members_dir + "/*.http") + ";\n";
  std::ostringstream body;
  render_denied(body, {"/secrets/"}, "    ");
  if (!conf.root_dir.empty()) {
    std::string root = conf.root_dir;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    body << "    location / {  # the website's own root\n"
         << "      root " << nginx_quote(root) << ";\n"
         << "      index Default.htm default.htm index.htm index.html Default.html "
            "default.html iisstart.htm;\n"
         << "    }\n"
         << web_config_denied;
  } else {
    body << "    location / { return 404; }  # no root: only the tasks' applications\n";
  }
  body << "    include " << nginx_quote(conf.members_dir + "/*.conf") << ";\n";
  skeleton.server_body = body.str();
  return render_skeleton(skeleton);
}

std::string render_member_locations(const front_member& member) {
  return "    # task " + member.label + " (generated by nomad_iis; do not edit)\n" +
         render_routes(member);
}

std::string render_member_http(const front_member& member) {
  return render_http_parts(member);
}

std::string render_pool_conf(const pool_conf& conf) {
  std::ostringstream out;
  const std::string instance = layout::pool_instance(conf.pool);
  out << "# nginx of application pool " << conf.pool_name << " of site " << conf.site_name
      << " (generated by nomad_iis; do not edit)\n";
  render_main(out, conf.data_dir, instance, layout::pid_file(conf.data_dir, instance),
              conf.worker_identity, conf.worker_processes, 1024, conf.shutdown_time_limit);
  out << "http {\n"
      << file_serving(conf.mime_types_path) << "  access_log off;\n"
      << "  server_tokens off;\n";
  render_temp_paths(out, conf.data_dir, instance);
  out << "  server {\n"
      << "    listen " << nginx_quote("unix:" + conf.listen_socket) << " backlog=" << conf.backlog
      << ";\n";
  render_denied(out, conf.denied_prefixes, "    ");
  out << web_config_denied;
  for (const auto& [url_path, directory] : conf.locations) {
    if (is_denied(url_path, conf.denied_prefixes)) continue;
    out << "    location " << nginx_quote(url_path) << " {\n"
        << "      alias " << nginx_quote(folder_path(directory)) << ";\n"
        << "    }\n";
  }
  out << "  }\n}\n";
  return out.str();
}

std::vector<std::string> denied_url_prefixes(const site_plan& plan) {
  std::vector<std::string> prefixes{"/secrets/"};
  const fs::path secrets(plan.secrets_dir);
  auto add_if_covering = [&](const std::string& url_path, const std::string& physical) {
    const auto relative = secrets.lexically_relative(fs::path(physical));
    if (relative.empty() || *relative.begin() == "..") return;
    std::string prefix = url_path;
    if (relative != ".") {
      for (const auto& part : relative) prefix += part.string() + "/";
    }
    if (std::find(prefixes.begin(), prefixes.end(), prefix) == prefixes.end()) {
      prefixes.push_back(prefix);
    }
  };
  for (const auto& app : plan.applications) {
    add_if_covering(app.url_path, app.physical_path);
    for (const auto& vdir : app.virtual_directories) {
      add_if_covering(vdir.url_path, vdir.physical_path);
    }
  }
  return prefixes;
}

}  // namespace nomad_iis::iis
