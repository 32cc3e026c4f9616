// site_core: what the site's nginx configuration files and certificates say,
// derived from the plan and the applications' web.config files.

#include "iis/site_core.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "iis/certificates.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

std::string address_text(const std::string& ip, std::int32_t port) {
  if (ip.empty()) return "*:" + std::to_string(port);
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

}  // namespace

// ------------------------------------------------------------ configuration

void site_core::analyse_apps(std::optional<std::size_t> pool) {
  for (std::size_t i = 0; i < plan_.applications.size(); ++i) {
    std::size_t app_pool = 0;
    {
      std::lock_guard lock(mutex_);
      app_pool = apps_[i].pool;
    }
    if (pool && app_pool != *pool) continue;
    web_config web;
    try {
      web = read_web_config(plan_.applications[i].physical_path);
    } catch (const std::exception& e) {
      throw backend_error(code_of(e, errc::invalid_config),
                          "application " + plan_.applications[i].url_path + ": " + e.what());
    }
    std::lock_guard lock(mutex_);
    apps_[i].handler = web.handler;
    apps_[i].max_body = web.max_allowed_content_length;
  }
}

bool site_core::pool_has_static(std::size_t pool) const {
  std::lock_guard lock(mutex_);
  return std::any_of(apps_.begin(), apps_.end(),
                     [pool](const app_state& app) { return app.pool == pool && !app.handler; });
}

bool site_core::pool_has_apps(std::size_t pool) const {
  std::lock_guard lock(mutex_);
  return std::any_of(apps_.begin(), apps_.end(),
                     [pool](const app_state& app) { return app.pool == pool && app.handler; });
}

std::optional<nginx_identity> site_core::identity_for(
    const std::optional<std::string>& user) const {
  if (::geteuid() != 0) return std::nullopt;
  const std::string name = user.value_or("www-data");
  const auto account = find_account(name);
  if (!account) throw std::runtime_error("unknown Unix user " + name);
  return nginx_identity{account->name, account->group};
}

void site_core::write_pool_conf(std::size_t pool) {
  pool_conf conf;
  conf.site_name = plan_.site_name;
  conf.pool_name = plan_.pools[pool].name;
  conf.pool = pool;
  conf.data_dir = plan_.data_dir;
  conf.worker_identity = identity_for(plan_.pools[pool].run_as_user);
  conf.backlog = plan_.pools[pool].queue_length.value_or(1000);
  conf.listen_socket = layout::pool_bind_name(pool);
  conf.shutdown_time_limit = plan_.pools[pool].shutdown_time_limit;
  conf.denied_prefixes = denied_url_prefixes(plan_);
  std::error_code error;
  if (!fs::exists(conf.mime_types_path, error)) conf.mime_types_path.clear();
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < plan_.applications.size(); ++i) {
      if (apps_[i].pool != pool || apps_[i].handler) continue;
      const auto& app = plan_.applications[i];
      conf.locations.emplace_back(app.url_path, app.physical_path);
      for (const auto& vdir : app.virtual_directories) {
        conf.locations.emplace_back(vdir.url_path, vdir.physical_path);
      }
    }
  }
  make_dir(layout::temp_dir(plan_.data_dir, layout::pool_instance(pool)), 0711);
  write_file_atomic(layout::conf(plan_.data_dir, layout::pool_instance(pool)),
                    render_pool_conf(conf));
}

void site_core::write_front_conf() {
  front_conf conf;
  conf.site_name = plan_.site_name;
  conf.data_dir = plan_.data_dir;
  conf.worker_identity = identity_for(std::string("www-data"));
  conf.bindings = plan_.bindings;
  conf.denied_prefixes = denied_url_prefixes(plan_);
  conf.shutdown_time_limit = duration(0);
  for (std::size_t p = 0; p < plan_.pools.size(); ++p) {
    const auto& pool = plan_.pools[p];
    conf.shutdown_time_limit = std::max(conf.shutdown_time_limit, pool.shutdown_time_limit);
    conf.fallbacks.push_back(
        pool_fallback{p, pool.name, pool.unavailable == config::unavailable_response::tcp_level});
  }
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> app_paths;
    for (const auto& app : plan_.applications) app_paths.insert(app.url_path);
    for (std::size_t i = 0; i < plan_.applications.size(); ++i) {
      const auto& app = plan_.applications[i];
      const auto& state = apps_[i];
      const auto& pool = plan_.pools[state.pool];
      front_route route;
      route.pool = state.pool;
      route.max_body_bytes = state.max_body;
      if (pool.idle_timeout && pool.idle_timeout->count() > 0) {
        route.activity_log = layout::activity_log(plan_.data_dir, state.pool);
      }
      if (!state.handler) {
        route.target = front_route::kind::pool_socket;
        route.socket = layout::socket_name(state.pool);
      } else {
        const auto status = pools_[state.pool].status;
        const bool down =
            status == pool_status::stopped || status == pool_status::stopping || state.port == 0;
        route.target = down ? front_route::kind::unavailable : front_route::kind::app_port;
        route.port = state.port;
        route.tcp_level = pool.unavailable == config::unavailable_response::tcp_level;
        route.read_timeout = state.handler->request_timeout;
        if (pool.start_mode == config::start_mode::on_demand || !route.activity_log.empty()) {
          // The pool may be without its process: requests wait for its start.
          route.wait_socket = layout::app_wait_socket(i);
          route.app = i;
          route.wait_timeout = state.handler->startup_time_limit.value_or(pool.start_time_limit) +
                               std::chrono::seconds(5);
        }
      }
      route.url_path = app.url_path;
      conf.routes.push_back(route);
      for (const auto& vdir : app.virtual_directories) {
        if (app_paths.count(vdir.url_path)) continue;  // an application of its own wins
        route.url_path = vdir.url_path;
        conf.routes.push_back(route);
      }
    }
  }
  make_dir(layout::temp_dir(plan_.data_dir, layout::front_instance), 0711);
  write_file_atomic(layout::conf(plan_.data_dir, layout::front_instance), render_front_conf(conf));
}

std::vector<site_core::ready_target> site_core::pool_targets(std::size_t pool) const {
  std::vector<ready_target> targets;
  const auto now = clock::now();
  const auto& plan_pool = plan_.pools[pool];
  std::lock_guard lock(mutex_);
  if (pools_[pool].master.pid) {
    ready_target target;
    target.what = "application pool " + plan_pool.name + " (nginx)";
    target.nginx_workers = true;
    target.owner = pools_[pool].master;
    target.owner_log = layout::alert_log(plan_.data_dir, layout::pool_instance(pool));
    target.deadline = now + plan_pool.start_time_limit;
    target.limit_text = seconds_text(plan_pool.start_time_limit);
    targets.push_back(target);
  }
  for (std::size_t i = 0; i < apps_.size(); ++i) {
    const auto& app = apps_[i];
    if (app.pool != pool || !app.handler || !app.process.pid) continue;
    ready_target target;
    target.what = "application " + plan_.applications[i].url_path + " (" +
                  app.handler->element_name() + " process " + std::to_string(app.process.pid) +
                  " on port " + std::to_string(app.port) + ")";
    target.ip = "127.0.0.1";
    target.port = app.port;
    target.owner = app.process;
    const auto limit = app.handler->startup_time_limit.value_or(plan_pool.start_time_limit);
    target.deadline = now + limit;
    target.limit_text = seconds_text(limit);
    targets.push_back(target);
  }
  return targets;
}

void site_core::prepare_certificates() {
  for (std::size_t i = 0; i < plan_.bindings.size(); ++i) {
    const auto& binding = plan_.bindings[i];
    if (!binding.certificate) continue;
    const auto& cert = *binding.certificate;
    const std::string cert_out = layout::cert_file(plan_.data_dir, i);
    const std::string key_out = layout::key_file(plan_.data_dir, i);
    const std::string where = "binding " + address_text(binding.ip, binding.port) +
                              (binding.hostname.empty() ? "" : " (" + binding.hostname + ")");
    try {
      certificate_info info;
      switch (cert.from) {
        case certificate_plan::source::self_signed:
          info = create_self_signed(cert.hostnames, cert_out, key_out);
          emit("self-signed certificate created for " + where + ": " + info.subject +
                   ", thumbprint " + info.thumbprint + ", valid until " + info.not_after,
               {{"thumbprint", info.thumbprint}});
          break;
        case certificate_plan::source::pfx_file:
          info = convert_pfx(cert.pfx_file, cert.pfx_password, cert_out, key_out);
          emit("certificate installed for " + where + ": " + info.subject + ", thumbprint " +
                   info.thumbprint,
               {{"thumbprint", info.thumbprint}});
          break;
        case certificate_plan::source::pem_files:
          info = copy_pem(cert.cert_file, cert.key_file, cert_out, key_out);
          emit("certificate installed for " + where + ": " + info.subject + ", thumbprint " +
                   info.thumbprint,
               {{"thumbprint", info.thumbprint}});
          break;
      }
    } catch (const std::exception& e) {
      throw backend_error(code_of(e, errc::invalid_config), where + ": certificate: " + e.what());
    }
  }
}

}  // namespace nomad_iis::iis
