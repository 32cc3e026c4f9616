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

/// get_blocks whose error is recorded: a bad list reads as no blocks.
std::vector<fields> blocks(problem_list& p, const fields& f, std::string_view key,
                           std::string_view block_name, std::size_t min_items,
                           std::size_t max_items) {
  std::vector<fields> result;
  p.check([&] { result = get_blocks(f, key, block_name, min_items, max_items); });
  return result;
}

std::vector<extension> decode_extensions(problem_list& p, const fields& parent) {
  std::vector<extension> result;
  for (const fields& block : blocks(p, parent, "extensions", "extension", 0, 0)) {
    extension item;
    p.check([&] { item.name = get_required_string(block, "name"); });
    p.check([&] {
      auto value = get_string(block, "value");
      if (!value) throw config_error(block.path_of("value"), "is required");
      item.value = std::move(*value);
    });
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

application_pool decode_pool(problem_list& p, const fields& f) {
  application_pool pool;
  pool.declared_at = f.path();
  p.check([&] {
    if (auto name = get_string(f, "name")) pool.name = std::move(*name);
  });
  p.check([&] { pool.managed_pipeline_mode = decode_pipeline_mode(f); });
  p.check([&] { pool.managed_runtime_version = decode_runtime_version(f); });
  p.check([&] { pool.start_mode = decode_start_mode(f); });
  p.check([&] { pool.idle_timeout = get_duration(f, "idle_timeout"); });
  p.check([&] { pool.disable_overlapped_recycle = get_bool(f, "disable_overlapped_recycle"); });
  p.check([&] { pool.periodic_restart = get_duration(f, "periodic_restart"); });
  p.check([&] { pool.enable_32bit_app_on_win64 = get_bool(f, "enable_32bit_app_on_win64"); });
  p.check([&] { pool.service_unavailable_response = decode_unavailable_response(f); });
  // IIS accepts queueLength 10..65535; the original passed it through, so IIS enforced this.
  p.check([&] { pool.queue_length = get_int(f, "queue_length", 10, 65535); });
  p.check([&] { pool.start_time_limit = get_duration(f, "start_time_limit"); });
  p.check([&] { pool.shutdown_time_limit = get_duration(f, "shutdown_time_limit"); });
  // IIS's cpu.limit (1/1000 of a percent) and privateMemory (KB), with their ranges.
  p.check([&] { pool.cpu_limit = get_int(f, "cpu_limit", 0, 100000); });
  p.check([&] { pool.private_memory_limit = get_int(f, "private_memory_limit", 0, 4294967295); });
  p.check([&] {
    auto identity = get_string(f, "identity");
    if (!identity) return;
    match_name(f.path_of("identity"), *identity,
               {"ApplicationPoolIdentity", "LocalSystem", "LocalService", "NetworkService",
                "SpecificUser"},
               false);
    pool.identity = std::move(*identity);
  });
  p.check([&] { pool.username = get_nonempty_string(f, "username"); });
  p.check([&] { pool.password = get_nonempty_string(f, "password", /*secret=*/true); });
  pool.extensions = decode_extensions(p, f);
  return pool;
}

virtual_directory decode_virtual_directory(problem_list& p, const fields& f) {
  virtual_directory vdir;
  p.check([&] {
    vdir.alias = trim_slashes(get_required_string(f, "alias"));
    if (vdir.alias.empty())
      throw config_error(f.path_of("alias"), "must name a sub-path, not \"/\"");
  });
  p.check([&] { vdir.path = get_required_string(f, "path"); });
  vdir.extensions = decode_extensions(p, f);
  return vdir;
}

application decode_application(problem_list& p, const fields& f) {
  application app;
  p.check([&] {
    if (auto pool = get_string(f, "application_pool")) app.application_pool = std::move(*pool);
  });
  p.check([&] {
    if (auto alias = get_string(f, "alias")) app.alias = trim_slashes(std::move(*alias));
  });
  p.check([&] { app.path = get_required_string(f, "path"); });
  p.check([&] { app.enable_preload = get_bool(f, "enable_preload"); });
  p.check([&] { app.service_auto_start_enabled = get_bool(f, "service_auto_start_enabled"); });
  p.check([&] {
    app.service_auto_start_provider = get_nonempty_string(f, "service_auto_start_provider");
  });
  for (const fields& block : blocks(p, f, "virtual_directories", "virtual_directory", 0, 0)) {
    app.virtual_directories.push_back(decode_virtual_directory(p, block));
  }
  app.extensions = decode_extensions(p, f);
  return app;
}

certificate decode_certificate(problem_list& p, const fields& f) {
  certificate cert;
  // Empty strings count as unset, as in the original's IsNullOrEmpty checks.
  p.check([&] { cert.thumbprint = get_nonempty_string(f, "thumbprint"); });
  p.check([&] { cert.pfx_file = get_nonempty_string(f, "pfx_file"); });
  p.check([&] { cert.password = get_nonempty_string(f, "password", /*secret=*/true); });
  p.check([&] { cert.cert_file = get_nonempty_string(f, "cert_file"); });
  p.check([&] { cert.key_file = get_nonempty_string(f, "key_file"); });
  p.check([&] { cert.use_self_signed = get_bool(f, "use_self_signed").value_or(false); });
  return cert;
}

}  // namespace

binding decode_binding(problem_list& p, const fields& f) {
  binding result;
  p.check([&] {
    const std::string type = get_required_string(f, "type");
    result.type = match_name(f.path_of("type"), type, {"http", "https"}, true) == 0
                      ? binding_type::http
                      : binding_type::https;
  });
  p.check([&] { result.port = get_required_string(f, "port"); });
  p.check([&] { result.hostname = get_nonempty_string(f, "hostname"); });
  p.check([&] { result.require_sni = get_bool(f, "require_sni"); });
  p.check([&] { result.ip_address = get_nonempty_string(f, "ip_address"); });
  auto certificates = blocks(p, f, "certificates", "certificate", 0, 1);
  if (!certificates.empty()) result.certificate = decode_certificate(p, certificates.front());
  return result;
}

task_config decode_task_config(std::string_view msgpack_bytes) {
  const msgpack::object_handle handle = detail::unpack_whole(msgpack_bytes);
  const fields root(handle.get(), "");

  problem_list p;
  task_config config;
  p.check([&] { config.target_website = get_nonempty_string(root, "target_website"); });
  // The deprecated spelling first, then the current one, as the original merged them.
  for (const fields& block : blocks(p, root, "applicationPools", "applicationPool", 0, 0)) {
    config.application_pools.push_back(decode_pool(p, block));
  }
  for (const fields& block : blocks(p, root, "application_pools", "application_pool", 0, 0)) {
    config.application_pools.push_back(decode_pool(p, block));
  }
  for (const fields& block : blocks(p, root, "applications", "application", 1, 0)) {
    config.applications.push_back(decode_application(p, block));
  }
  p.check([&] { config.permit_iusr = get_bool(root, "permit_iusr").value_or(true); });
  for (const fields& block : blocks(p, root, "bindings", "binding", 0, 64)) {
    config.bindings.push_back(decode_binding(p, block));
  }
  for (const fields& block :
       blocks(p, root, "service_auto_start_providers", "service_auto_start_provider", 0, 0)) {
    service_auto_start_provider provider;
    p.check([&] { provider.name = get_required_string(block, "name"); });
    p.check([&] { provider.type = get_required_string(block, "type"); });
    config.service_auto_start_providers.push_back(std::move(provider));
  }
  // Every bad field in one message, rather than only the first.
  p.throw_if_any();
  return config;
}

}  // namespace nomad_iis::config
