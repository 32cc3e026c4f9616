// Decoding of a job's `config { ... }` block (cty msgpack, see schema.cpp for
// the shape). Only per-field checks happen here; rules that span fields or
// need the driver config are in task_validate.cpp.

#include "config/task_config.hpp"
#include "config/error.hpp"
#include "config/msgpack_reader.hpp"

namespace nomad_iis::config {
namespace {

using detail::fields;
using detail::get_blocks;
using detail::get_bool;
using detail::get_duration;
using detail::get_int;
using detail::get_nonempty_string;
using detail::get_required_string;
using detail::get_string;
using detail::match_name;

/// Strips the slashes around an alias: "/app/" and "app" name the same application.
std::string trim_slashes(std::string text) {
  const auto first = text.find_first_not_of('/');
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of('/');
  return text.substr(first, last - first + 1);
}

std::vector<extension> decode_extensions(const fields& parent) {
  std::vector<extension> result;
  for (const fields& block : get_blocks(parent, "extensions", "extension", 0, 0)) {
    extension item;
    item.name = get_required_string(block, "name");
    auto value = get_string(block, "value");
    if (!value) throw config_error(block.path_of("value"), "is required");
    item.value = std::move(*value);
    result.push_back(std::move(item));
  }
  return result;
}

// Enum spellings. Those the original parsed with Enum.TryParse(ignoreCase: true)
// are accepted in any case and stored in IIS's spelling; identity and
// managed_runtime_version were compared as exact strings there, so they are
// case-sensitive here too.

std::optional<std::string> decode_pipeline_mode(const fields& f) {
  auto text = get_string(f, "managed_pipeline_mode");
  if (!text) return std::nullopt;
  static constexpr const char* names[] = {"Integrated", "Classic"};
  return names[match_name(f.path_of("managed_pipeline_mode"), *text, {names[0], names[1]}, true)];
}

std::optional<std::string> decode_runtime_version(const fields& f) {
  auto text = get_string(f, "managed_runtime_version");
  // The original skipped blank values rather than failing on them.
  if (!text || text->find_first_not_of(" \t") == std::string::npos) return std::nullopt;
  match_name(f.path_of("managed_runtime_version"), *text, {"v4.0", "v2.0", "None"}, false);
  return text;
}

std::optional<config::start_mode> decode_start_mode(const fields& f) {
  auto text = get_string(f, "start_mode");
  if (!text) return std::nullopt;
  return match_name(f.path_of("start_mode"), *text, {"OnDemand", "AlwaysRunning"}, true) == 0
             ? start_mode::on_demand
             : start_mode::always_running;
}

std::optional<unavailable_response> decode_unavailable_response(const fields& f) {
  auto text = get_string(f, "service_unavailable_response");
  if (!text) return std::nullopt;
  return match_name(f.path_of("service_unavailable_response"), *text, {"HttpLevel", "TcpLevel"},
                    true) == 0
             ? unavailable_response::http_level
             : unavailable_response::tcp_level;
}

application_pool decode_pool(const fields& f) {
  application_pool pool;
  pool.declared_at = f.path();
  if (auto name = get_string(f, "name")) pool.name = std::move(*name);
  pool.managed_pipeline_mode = decode_pipeline_mode(f);
  pool.managed_runtime_version = decode_runtime_version(f);
  pool.start_mode = decode_start_mode(f);
  pool.idle_timeout = get_duration(f, "idle_timeout");
  pool.disable_overlapped_recycle = get_bool(f, "disable_overlapped_recycle");
  pool.periodic_restart = get_duration(f, "periodic_restart");
  pool.enable_32bit_app_on_win64 = get_bool(f, "enable_32bit_app_on_win64");
  pool.service_unavailable_response = decode_unavailable_response(f);
  // IIS accepts queueLength 10..65535; the original passed it through, so IIS enforced this.
  pool.queue_length = get_int(f, "queue_length", 10, 65535);
  pool.start_time_limit = get_duration(f, "start_time_limit");
  pool.shutdown_time_limit = get_duration(f, "shutdown_time_limit");
  if (auto identity = get_string(f, "identity")) {
    match_name(f.path_of("identity"), *identity,
               {"ApplicationPoolIdentity", "LocalSystem", "LocalService", "NetworkService",
                "SpecificUser"},
               false);
    pool.identity = std::move(*identity);
  }
  pool.username = get_nonempty_string(f, "username");
  pool.password = get_nonempty_string(f, "password", /*secret=*/true);
  pool.extensions = decode_extensions(f);
  return pool;
}

virtual_directory decode_virtual_directory(const fields& f) {
  virtual_directory vdir;
  vdir.alias = trim_slashes(get_required_string(f, "alias"));
  if (vdir.alias.empty()) throw config_error(f.path_of("alias"), "must name a sub-path, not \"/\"");
  vdir.path = get_required_string(f, "path");
  vdir.extensions = decode_extensions(f);
  return vdir;
}

application decode_application(const fields& f) {
  application app;
  if (auto pool = get_string(f, "application_pool")) app.application_pool = std::move(*pool);
  if (auto alias = get_string(f, "alias")) app.alias = trim_slashes(std::move(*alias));
  app.path = get_required_string(f, "path");
  app.enable_preload = get_bool(f, "enable_preload");
  app.service_auto_start_enabled = get_bool(f, "service_auto_start_enabled");
  app.service_auto_start_provider = get_nonempty_string(f, "service_auto_start_provider");
  for (const fields& block : get_blocks(f, "virtual_directories", "virtual_directory", 0, 0)) {
    app.virtual_directories.push_back(decode_virtual_directory(block));
  }
  app.extensions = decode_extensions(f);
  return app;
}

certificate decode_certificate(const fields& f) {
  certificate cert;
  // Empty strings count as unset, as in the original's IsNullOrEmpty checks.
  cert.thumbprint = get_nonempty_string(f, "thumbprint");
  cert.pfx_file = get_nonempty_string(f, "pfx_file");
  cert.password = get_nonempty_string(f, "password", /*secret=*/true);
  cert.cert_file = get_nonempty_string(f, "cert_file");
  cert.key_file = get_nonempty_string(f, "key_file");
  cert.use_self_signed = get_bool(f, "use_self_signed").value_or(false);
  return cert;
}

binding decode_binding(const fields& f) {
  binding result;
  const std::string type = get_required_string(f, "type");
  result.type = match_name(f.path_of("type"), type, {"http", "https"}, true) == 0
                    ? binding_type::http
                    : binding_type::https;
  result.port = get_required_string(f, "port");
  result.hostname = get_nonempty_string(f, "hostname");
  result.require_sni = get_bool(f, "require_sni");
  result.ip_address = get_nonempty_string(f, "ip_address");
  auto certificates = get_blocks(f, "certificates", "certificate", 0, 1);
  if (!certificates.empty()) result.certificate = decode_certificate(certificates.front());
  return result;
}

}  // namespace

task_config decode_task_config(std::string_view msgpack_bytes) {
  const msgpack::object_handle handle = detail::unpack_whole(msgpack_bytes);
  const fields root(handle.get(), "");

  task_config config;
  config.target_website = get_nonempty_string(root, "target_website");
  // The deprecated spelling first, then the current one, as the original merged them.
  for (const fields& block : get_blocks(root, "applicationPools", "applicationPool", 0, 0)) {
    config.application_pools.push_back(decode_pool(block));
  }
  for (const fields& block : get_blocks(root, "application_pools", "application_pool", 0, 0)) {
    config.application_pools.push_back(decode_pool(block));
  }
  for (const fields& block : get_blocks(root, "applications", "application", 1, 0)) {
    config.applications.push_back(decode_application(block));
  }
  config.permit_iusr = get_bool(root, "permit_iusr").value_or(true);
  for (const fields& block : get_blocks(root, "bindings", "binding", 0, 64)) {
    config.bindings.push_back(decode_binding(block));
  }
  for (const fields& block :
       get_blocks(root, "service_auto_start_providers", "service_auto_start_provider", 0, 0)) {
    service_auto_start_provider provider;
    provider.name = get_required_string(block, "name");
    provider.type = get_required_string(block, "type");
    config.service_auto_start_providers.push_back(std::move(provider));
  }
  return config;
}

}  // namespace nomad_iis::config
