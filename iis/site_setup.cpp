#include "iis/site_setup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "iis/ancestor_access.hpp"
#include "iis/app_command.hpp"
#include "iis/certificates.hpp"
#include "iis/failure.hpp"
#include "iis/front_probe.hpp"
#include "iis/net_probe.hpp"
#include "iis/nginx_config.hpp"
#include "iis/nginx_log.hpp"
#include "iis/site_cgroup.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"
#include "iis/state_codec.hpp"
#include "iis/unix_users.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

std::optional<nginx_identity> identity_for(const std::optional<std::string>& user) {
  if (::geteuid() != 0) return std::nullopt;
  const std::string name = user.value_or("www-data");
  const auto account = find_account(name);
  if (!account) throw backend_error(errc::invalid_config, "unknown Unix user " + name);
  return nginx_identity{account->name, account->group};
}

site_event certificate_event(const std::string& what, const std::string& where,
                             const certificate_info& info) {
  return {what + " for " + where + ": " + info.subject + ", thumbprint " + info.thumbprint,
          {{"thumbprint", info.thumbprint}}};
}

std::vector<site_event> prepare_certificates(const site_plan& plan) {
  std::vector<site_event> events;
  for (std::size_t i = 0; i < plan.bindings.size(); ++i) {
    const auto& binding = plan.bindings[i];
    if (!binding.certificate) continue;
    const auto& cert = *binding.certificate;
    const std::string cert_out = layout::cert_file(plan.data_dir, i);
    const std::string key_out = layout::key_file(plan.data_dir, i);
    const std::string where = "binding " + address_text(binding.ip, binding.port) +
                              (binding.hostname.empty() ? "" : " (" + binding.hostname + ")");
    try {
      switch (cert.from) {
        case certificate_plan::source::self_signed: {
          const auto info = create_self_signed(cert.hostnames, cert_out, key_out);
          auto event = certificate_event("self-signed certificate created", where, info);
          event.message += ", valid until " + info.not_after;
          events.push_back(std::move(event));
          break;
        }
        case certificate_plan::source::pfx_file:
          events.push_back(
              certificate_event("certificate installed", where,
                                convert_pfx(cert.pfx_file, cert.pfx_password, cert_out, key_out)));
          break;
        case certificate_plan::source::pem_files:
          events.push_back(
              certificate_event("certificate installed", where,
                                copy_pem(cert.cert_file, cert.key_file, cert_out, key_out)));
          break;
      }
    } catch (const std::exception& e) {
      throw backend_error(code_of(e, errc::invalid_config), where + ": certificate: " + e.what());
    }
  }
  return events;
}

void check_bindings(const site_plan& plan) {
  std::set<std::pair<std::string, std::int32_t>> listens;
  for (const auto& binding : plan.bindings) {
    if (!listens.insert({binding.ip, binding.port}).second) continue;
    if (auto why = check_bindable(binding.ip, binding.port)) {
      throw backend_error(
          why->code, "binding " + address_text(binding.ip, binding.port) + ": " + why->message);
    }
  }
}

}  // namespace

std::optional<nginx_identity> front_identity() {
  return identity_for(std::string("www-data"));
}

std::vector<site_event> prepare_bindings(const site_plan& plan) {
  auto events = prepare_certificates(plan);
  check_bindings(plan);
  return events;
}

std::vector<site_event> prepare_site(const site_plan& plan) {
  std::vector<site_event> events;
  if (!plan.ignored_options.empty()) {
    events.push_back({"options without effect on Linux: " + join(plan.ignored_options),
                      {{"ignored_options", join(plan.ignored_options)}}});
  }
  ensure_pool_users(plan);
  create_site_dirs(plan);
  for (auto& event : prepare_cgroups(plan)) events.push_back(std::move(event));
  write_file_atomic(layout::environment_file(plan.data_dir), encode_environment(plan), 0600);
  copy_placeholder(plan);
  for (auto& event : secure_site(plan)) events.push_back(std::move(event));
  if (auto granted = grant_ancestor_search(plan); !granted.empty()) {
    events.push_back(
        {"let the pools' users pass through folders above the allocation: " + join(granted),
         {{"granted", join(granted)}}});
  }
  for (std::size_t pool = 0; pool < plan.pools.size(); ++pool) {
    for (const auto& app : read_pool_apps(plan, pool)) {
      if (app.handler && app.handler->hosting_model == "inprocess") {
        events.push_back({"application " + plan.applications[app.app].url_path +
                              " asks for hostingModel=\"inprocess\"; on Linux its process runs "
                              "out of process behind nginx",
                          {}});
      }
    }
  }
  for (auto& event : prepare_certificates(plan)) events.push_back(std::move(event));
  check_bindings(plan);
  return events;
}

std::vector<site_event> secure_site(const site_plan& plan) {
  std::vector<site_event> events;
  if (auto notes = apply_directory_security(plan); !notes.empty()) {
    events.push_back({"directory security left some folders alone: " + join(notes, "; "),
                      {{"left_alone", join(notes, "; ")}}});
  }
  return events;
}

std::vector<std::string> remove_site(const site_plan& plan) {
  auto left = remove_cgroups(plan);
  remove_tree(plan.data_dir);
  for (auto& user : remove_pool_users(plan)) left.push_back(std::move(user));
  return left;
}

std::vector<app_runtime> read_pool_apps(const site_plan& plan, std::size_t pool) {
  std::vector<app_runtime> apps;
  for (std::size_t i = 0; i < plan.applications.size(); ++i) {
    const auto& app = plan.applications[i];
    if (app.pool != plan.pools[pool].name) continue;
    web_config web;
    try {
      web = read_web_config(app.physical_path);
    } catch (const std::exception& e) {
      throw backend_error(code_of(e, errc::invalid_config),
                          "application " + app.url_path + ": " + e.what());
    }
    apps.push_back(app_runtime{i, web.handler, web.max_allowed_content_length, 0});
  }
  return apps;
}

void write_pool_conf(const site_plan& plan, std::size_t pool,
                     const std::vector<app_runtime>& apps) {
  pool_conf conf;
  conf.site_name = plan.site_name;
  conf.pool_name = plan.pools[pool].name;
  conf.pool = pool;
  conf.data_dir = plan.data_dir;
  conf.worker_identity = identity_for(plan.pools[pool].run_as_user);
  conf.backlog = plan.pools[pool].queue_length.value_or(1000);
  conf.listen_socket = layout::pool_bind_name(pool);
  conf.shutdown_time_limit = plan.pools[pool].shutdown_time_limit;
  conf.denied_prefixes = denied_url_prefixes(plan);
  std::error_code error;
  if (!fs::exists(conf.mime_types_path, error)) conf.mime_types_path.clear();
  for (const auto& runtime : apps) {
    if (runtime.handler) continue;
    const auto& app = plan.applications[runtime.app];
    conf.locations.emplace_back(app.url_path, app.physical_path);
    for (const auto& vdir : app.virtual_directories) {
      conf.locations.emplace_back(vdir.url_path, vdir.physical_path);
    }
  }
  make_dir(layout::temp_dir(plan.data_dir, layout::pool_instance(pool)), 0711);
  write_file_atomic(layout::conf(plan.data_dir, layout::pool_instance(pool)),
                    render_pool_conf(conf));
}

namespace {

front_route route_of(const site_plan& plan, const pool_routes& pool_state,
                     const app_runtime& state) {
  const auto& pool = plan.pools[pool_state.pool];
  front_route route;
  route.pool = pool_state.pool;
  route.max_body_bytes = state.max_body;
  if (pool.idle_timeout && pool.idle_timeout->count() > 0) {
    route.activity_log = layout::activity_log(plan.data_dir, pool_state.pool);
  }
  if (!state.handler && pool_state.front_serves && !pool_state.down) {
    route.target = front_route::kind::files;  // member_of names the folder
    return route;
  }
  if (!state.handler) {
    route.target = front_route::kind::pool_socket;
    route.socket = layout::socket_name(pool_state.pool);
    return route;
  }
  const bool down = pool_state.down || state.port == 0;
  route.target = down ? front_route::kind::unavailable : front_route::kind::app_port;
  route.port = state.port;
  route.tcp_level = pool.unavailable == config::unavailable_response::tcp_level;
  route.read_timeout = state.handler->request_timeout;
  if (pool.start_mode == config::start_mode::on_demand || !route.activity_log.empty()) {
    // The pool may be without its process: requests wait for its start.
    route.wait_socket = layout::app_wait_socket(state.app);
    route.app = state.app;
    route.wait_timeout =
        state.handler->startup_time_limit.value_or(pool.start_time_limit) + std::chrono::seconds(5);
  }
  return route;
}

}  // namespace

front_member member_of(const site_plan& plan, const std::vector<pool_routes>& routes,
                       const std::string& socket_prefix) {
  front_member member;
  member.denied_prefixes = denied_url_prefixes(plan);
  member.requests_log = layout::requests_log(plan.data_dir);
  member.open_requests_log = layout::open_requests_log(plan.data_dir);
  for (std::size_t p = 0; p < plan.pools.size(); ++p) {
    const auto& pool = plan.pools[p];
    member.fallbacks.push_back(
        pool_fallback{p, pool.name, pool.unavailable == config::unavailable_response::tcp_level});
  }
  std::set<std::string> app_paths;
  for (const auto& app : plan.applications) app_paths.insert(app.url_path);
  std::vector<const app_runtime*> by_app(plan.applications.size(), nullptr);
  std::vector<const pool_routes*> pool_of(plan.applications.size(), nullptr);
  for (const auto& pool : routes) {
    for (const auto& app : pool.apps) {
      if (app.app >= by_app.size()) continue;
      by_app[app.app] = &app;
      pool_of[app.app] = &pool;
    }
  }
  for (std::size_t i = 0; i < plan.applications.size(); ++i) {
    if (!by_app[i]) continue;  // its pool has not told its routes yet
    const auto& app = plan.applications[i];
    auto route = route_of(plan, *pool_of[i], *by_app[i]);
    if (!route.socket.empty()) route.socket = socket_prefix + route.socket;
    if (!route.wait_socket.empty()) route.wait_socket = socket_prefix + route.wait_socket;
    route.url_path = app.url_path;
    const bool files = route.target == front_route::kind::files;
    if (files) route.directory = app.physical_path;
    member.routes.push_back(route);
    for (const auto& vdir : app.virtual_directories) {
      if (app_paths.count(vdir.url_path)) continue;  // an application of its own wins
      route.url_path = vdir.url_path;
      if (files) route.directory = vdir.physical_path;
      member.routes.push_back(route);
    }
  }
  return member;
}

void write_front_conf(const site_plan& plan, const std::vector<pool_routes>& routes,
                      std::uint32_t generation) {
  const auto member = member_of(plan, routes, "");
  front_conf conf;
  conf.site_name = plan.site_name;
  conf.data_dir = plan.data_dir;
  const auto served = front_served_pool(routes);
  // Serving a pool's files, its workers read them as the pool's user.
  conf.worker_identity = identity_for(served ? plan.pools[*served].run_as_user
                                             : std::optional<std::string>("www-data"));
  std::error_code missing;
  if (!fs::exists(conf.mime_types_path, missing)) conf.mime_types_path.clear();
  conf.bindings = plan.bindings;
  conf.denied_prefixes = member.denied_prefixes;
  conf.shutdown_time_limit = longest_shutdown_time_limit(plan);
  conf.requests_log = member.requests_log;
  conf.open_requests_log = member.open_requests_log;
  conf.generation = generation;
  conf.worker_connections = plan.front_worker_connections;
  conf.status_socket = status_socket_name(plan.data_dir, generation);
  conf.fallbacks = member.fallbacks;
  conf.routes = member.routes;
  make_dir(layout::temp_dir(plan.data_dir, layout::front_instance), 0711);
  write_file_atomic(layout::conf(plan.data_dir, layout::front_instance), render_front_conf(conf));
}

spawn_request nginx_request(const site_plan& plan, const std::string& instance, int listener) {
  spawn_request request;
  request.path = plan.nginx_path;
  request.args = nginx_arguments(plan.nginx_path, plan.data_dir, instance);
  request.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (const char* tz = std::getenv("TZ")) request.env.push_back(std::string("TZ=") + tz);
  if (listener >= 0) {
    // nginx's own inheritance (as in its binary upgrade): it uses fd 3 for the
    // `listen` whose address is the socket's bound name instead of binding.
    request.inherit_fds.push_back(listener);
    request.env.push_back("NGINX=3;");
  }
  request.cwd = plan.data_dir;  // sockets are named relative to it
  request.cgroup_procs = instance_cgroup_procs(plan, instance);
  return request;
}

app_launch app_request(const site_plan& plan, const app_runtime& app, std::int32_t port) {
  const auto& plan_app = plan.applications[app.app];
  if (!app.handler)
    throw backend_error(errc::invalid_config,
                        "application " + plan_app.url_path + " has no handler");
  std::size_t pool_index = 0;
  for (std::size_t i = 0; i < plan.pools.size(); ++i) {
    if (plan.pools[i].name == plan_app.pool) pool_index = i;
  }
  const pool_plan* pool = &plan.pools[pool_index];
  const std::string alloc_dir = fs::path(plan.task_dir).parent_path().string();
  auto command = build_app_command(*app.handler, plan_app, *pool, port, alloc_dir);
  app_launch launch;
  if (!command.stdout_log_path.empty()) {
    // Below the task: created through descriptors, never through a link.
    launch.log = open_app_log(alloc_dir, command.stdout_log_path, command.request.account);
  }
  launch.request = std::move(command.request);
  launch.request.cgroup_procs = instance_cgroup_procs(plan, layout::pool_instance(pool_index));
  return launch;
}

void record_app(const site_plan& plan, std::size_t app, const process_ref& process,
                std::int32_t port) {
  try {
    // Read by list_dangling and by a recovery (the port: the driver state is
    // StartTask's, the app may have moved since).
    write_file_atomic(layout::app_pid_file(plan.data_dir, app),
                      std::to_string(process.pid) + " " + std::to_string(process.start_ticks) +
                          " " + std::to_string(port) + "\n",
                      0644);
  } catch (const std::exception&) {
    // Without it a recovery falls back on the driver state.
  }
}

namespace {

/// Best effort: a recovery without a marker falls back on the driver state.
void set_marker(const std::string& marker, bool present) {
  if (!present) {
    ::unlink(marker.c_str());
    return;
  }
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

bool has_marker(const std::string& marker) {
  return ::access(marker.c_str(), F_OK) == 0;
}

}  // namespace

void persist_pool_stopped(const site_plan& plan, std::size_t pool, bool stopped) {
  set_marker(layout::pool_stopped_marker(plan.data_dir, pool), stopped);
}

bool pool_stopped_marked(const site_plan& plan, std::size_t pool) {
  return has_marker(layout::pool_stopped_marker(plan.data_dir, pool));
}

void persist_front_serves(const site_plan& plan, std::size_t pool, bool serves) {
  set_marker(layout::front_serves_marker(plan.data_dir, pool), serves);
}

bool front_serves_marked(const site_plan& plan, std::size_t pool) {
  return has_marker(layout::front_serves_marker(plan.data_dir, pool));
}

process_ref running_nginx_master(const std::string& data_dir, const std::string& pid_file,
                                 const std::string& conf) {
  std::ifstream in(pid_file);
  std::int32_t pid = 0;
  if (!(in >> pid) || pid <= 0) return {};
  const auto ticks = read_start_ticks(pid);
  // Its own config names it (also while a keeper's exec is still starting
  // up, before nginx retitles itself "nginx: master process").
  if (!ticks || command_line(pid).find(" -c " + conf) == std::string::npos) return {};
  std::error_code error;
  const auto cwd = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", error);
  if (error || cwd != fs::path(data_dir)) return {};
  return process_ref{pid, *ticks};
}

process_ref running_pool_master(const site_plan& plan, std::size_t pool) {
  const auto instance = layout::pool_instance(pool);
  return running_nginx_master(plan.data_dir, layout::pid_file(plan.data_dir, instance),
                              layout::conf(plan.data_dir, instance));
}

std::optional<std::pair<process_ref, std::int32_t>> running_app(const site_plan& plan,
                                                                std::size_t app) {
  std::ifstream in(layout::app_pid_file(plan.data_dir, app));
  process_ref ref;
  std::int32_t port = 0;
  if (!(in >> ref.pid >> ref.start_ticks >> port) || port <= 0 || !is_alive(ref)) {
    return std::nullopt;
  }
  return std::make_pair(ref, port);
}

void try_open_outputs(const site_plan& plan, output_fds& fds) {
  // O_NONBLOCK: open() of a FIFO without a reader fails with ENXIO instead
  // of blocking; the caller tries again until logmon reads.
  auto open_one = [](const std::string& path, unique_fd& fd) {
    if (fd) return;
    const int opened = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_APPEND);
    if (opened < 0) {
      if (errno != ENXIO)
        throw backend_error(errc::io_failure, "open " + path + ": " + std::strerror(errno));
      return;
    }
    ::fcntl(opened, F_SETFL, ::fcntl(opened, F_GETFL) & ~O_NONBLOCK);
    fd.reset(opened);
  };
  open_one(plan.stdout_path, fds.out);
  open_one(plan.stderr_path, fds.err);
}

}  // namespace nomad_iis::iis
