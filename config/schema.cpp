#include "config/schema.hpp"

#include <utility>

namespace nomad_iis::config {
namespace {

// Builders for the spec tree. Attributes carry their name explicitly even
// where hclspec would infer it from the object key: a Default's primary
// needs it (PROTOCOL.md §7.4) and being uniform costs nothing.

using attribute_list = std::vector<std::pair<std::string, spec_ptr>>;

spec_ptr object(attribute_list attributes) {
  auto node = std::make_shared<spec>();
  node->what = spec::kind::object;
  for (auto& [key, child] : attributes) node->attributes.emplace(key, std::move(child));
  return node;
}

spec_ptr attr(const std::string& name, const std::string& type, bool required = false) {
  auto node = std::make_shared<spec>();
  node->what = spec::kind::attr;
  node->name = name;
  node->type = type;
  node->required = required;
  return node;
}

spec_ptr literal(const std::string& hcl_expression) {
  auto node = std::make_shared<spec>();
  node->what = spec::kind::literal;
  node->value = hcl_expression;
  return node;
}

/// An optional attribute whose unset value Nomad replaces with `hcl_expression`.
spec_ptr defaulted(const std::string& name, const std::string& type,
                   const std::string& hcl_expression) {
  auto node = std::make_shared<spec>();
  node->what = spec::kind::defaulted;
  node->nested = attr(name, type);
  node->default_value = literal(hcl_expression);
  return node;
}

/// Repeated `block_name { ... }` blocks; the object key is the collection name.
spec_ptr block_list(const std::string& block_name, spec_ptr nested, std::uint64_t min_items = 0,
                    std::uint64_t max_items = 0) {
  auto node = std::make_shared<spec>();
  node->what = spec::kind::block_list;
  node->name = block_name;
  node->min_items = min_items;
  node->max_items = max_items;
  node->nested = std::move(nested);
  return node;
}

/// One object-key/spec pair for an attribute whose key equals its name.
std::pair<std::string, spec_ptr> a(const std::string& name, const std::string& type,
                                   bool required = false) {
  return {name, attr(name, type, required)};
}

std::pair<std::string, spec_ptr> d(const std::string& name, const std::string& type,
                                   const std::string& hcl_expression) {
  return {name, defaulted(name, type, hcl_expression)};
}

std::pair<std::string, spec_ptr> extensions() {
  return {"extensions",
          block_list("extension", object({a("name", "string", true), a("value", "string", true)}))};
}

spec_ptr application_pool_spec() {
  return object({
      d("name", "string", "\"default\""),
      a("managed_pipeline_mode", "string"),
      a("managed_runtime_version", "string"),
      a("start_mode", "string"),
      a("idle_timeout", "string"),
      a("disable_overlapped_recycle", "bool"),
      a("periodic_restart", "string"),
      a("enable_32bit_app_on_win64", "bool"),
      a("service_unavailable_response", "string"),
      a("queue_length", "number"),
      a("start_time_limit", "string"),
      a("shutdown_time_limit", "string"),
      a("cpu_limit", "number"),
      a("private_memory_limit", "number"),
      d("identity", "string", "\"ApplicationPoolIdentity\""),
      a("username", "string"),
      a("password", "string"),
      extensions(),
  });
}

spec_ptr application_spec() {
  auto virtual_directory = object({
      a("alias", "string", true),
      a("path", "string", true),
      extensions(),
  });
  return object({
      d("application_pool", "string", "\"default\""),
      a("alias", "string"),
      a("path", "string", true),
      a("enable_preload", "bool"),
      a("service_auto_start_enabled", "bool"),
      a("service_auto_start_provider", "string"),
      {"virtual_directories", block_list("virtual_directory", virtual_directory)},
      extensions(),
  });
}

spec_ptr binding_spec() {
  auto certificate = object({
      a("thumbprint", "string"),
      a("pfx_file", "string"),
      a("password", "string"),
      a("cert_file", "string"),
      a("key_file", "string"),
      a("use_self_signed", "bool"),
  });
  return object({
      a("type", "string", true),
      a("port", "string", true),
      a("hostname", "string"),
      a("require_sni", "bool"),
      a("ip_address", "string"),
      {"certificates", block_list("certificate", certificate, 0, 1)},
  });
}

spec_ptr make_task_config_schema() {
  return object({
      a("target_website", "string"),
      // Deprecated camelCase spelling, still accepted and merged before application_pool.
      {"applicationPools", block_list("applicationPool", application_pool_spec())},
      {"application_pools", block_list("application_pool", application_pool_spec())},
      {"applications", block_list("application", application_spec(), 1)},
      d("permit_iusr", "bool", "true"),
      {"bindings", block_list("binding", binding_spec(), 0, 64)},
      {"service_auto_start_providers",
       block_list("service_auto_start_provider",
                  object({a("name", "string", true), a("type", "string", true)}))},
  });
}

spec_ptr make_driver_config_schema() {
  auto procdump = object({
      d("binary_path", "string", "\"/usr/bin/gcore\""),
      d("accept_eula", "bool", "false"),
  });
  return object({
      d("enabled", "bool", "true"),
      d("fingerprint_interval", "string", "\"30s\""),
      d("directory_security", "bool", "true"),
      a("allowed_target_websites", "list(string)"),
      d("allowed_apppool_identities", "list(string)", "[\"ApplicationPoolIdentity\"]"),
      a("allowed_apppool_users", "list(string)"),
      a("allowed_host_paths", "list(string)"),
      {"websites",
       block_list("website", object({
                                 a("name", "string", true),
                                 a("physical_path", "string"),
                                 {"bindings", block_list("binding", binding_spec(), 1, 64)},
                             }))},
      d("placeholder_app_path", "string", "\"/var/www/html\""),
      {"procdumps", block_list("procdump", procdump, 0, 1)},
      // Linux backend.
      d("nginx_path", "string", "\"/usr/sbin/nginx\""),
      d("chromium_path", "string", "\"/usr/bin/chromium\""),
      a("data_dir", "string"),
      d("rapid_fail_max_crashes", "number", "5"),
      d("rapid_fail_interval", "string", "\"5m\""),
      d("single_hop_static", "bool", "true"),
      d("front_worker_connections", "number", "1024"),
      // Management API limits.
      d("upload_max_bytes", "number", "4294967296"),
      d("zip_max_entries", "number", "100000"),
      d("zip_max_uncompressed_bytes", "number", "8589934592"),
      d("zip_max_ratio", "number", "200"),
      d("allow_secrets_access", "bool", "false"),
      d("screenshot_concurrency", "number", "2"),
      d("screenshot_timeout", "string", "\"30s\""),
      d("procdump_concurrency", "number", "2"),
      d("request_header_timeout", "string", "\"10s\""),
      d("management_api_max_connections_per_client", "number", "512"),
  });
}

}  // namespace

spec_ptr driver_config_schema() {
  static const spec_ptr schema = make_driver_config_schema();
  return schema;
}

spec_ptr task_config_schema() {
  static const spec_ptr schema = make_task_config_schema();
  return schema;
}

}  // namespace nomad_iis::config
