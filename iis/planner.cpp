// plan_site(): the job's config resolved against the task (paths, ports,
// users) into the fully determined model the backend runs.

#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include "config/error.hpp"
#include "iis/linux_backend.hpp"
#include "iis/model.hpp"
#include "iis/process.hpp"
#include "iis/unix_users.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;
using config::config_error;

constexpr std::size_t max_site_name = 120;

/// Keeps [A-Za-z0-9._-]; anything else becomes '_'.
std::string filesystem_safe(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  if (!out.empty() && out.front() == '.') out.front() = '_';
  return out;
}

std::string site_name_for(const task_context& task) {
  std::string name = filesystem_safe(task.alloc_id + "-" + task.task_name);
  if (name.size() <= max_site_name) return name;
  // Keep it unique when cut: the hash covers the full name.
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(name));
  return name.substr(0, max_site_name - 17) + "-" + hash;
}

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

/// `path` lies in `root` (or is it).
bool is_within(const fs::path& path, const fs::path& root) {
  const auto relative = path.lexically_relative(root);
  return !relative.empty() && *relative.begin() != "..";
}

struct path_rules {
  fs::path alloc_dir;
  fs::path task_dir;
  std::string task_name;
  std::vector<fs::path> host_paths;  ///< allowed_host_paths
  std::vector<fs::path> never;       ///< folders no host path may overlap (alloc root, data_dir)
};

/// What a path is allowed to be.
enum class path_use {
  content,      ///< application or virtual directory: served, made readable to the pool
  certificate,  ///< a certificate file, read by the plugin: secrets/ is where Nomad puts them
};

/// Why `path` (absolute, normalised, inside the alloc dir) may not be used,
/// or "" when it may: the task's own folders and the shared alloc/ folder,
/// never a sibling task, secrets/ (except certificates), private/, the task
/// dir itself, the alloc dir itself or alloc/logs.
std::string refusal_inside_alloc(const fs::path& path, const fs::path& alloc_dir,
                                 const std::string& task_name, path_use use) {
  const fs::path relative = path.lexically_relative(alloc_dir);
  auto part = relative.begin();
  if (relative == "." || part == relative.end()) return "is the allocation directory itself";
  const std::string top = part->string();
  ++part;
  const std::string second = part == relative.end() ? "" : part->string();
  if (top == "alloc") {
    if (second.empty()) return "is the allocation's shared alloc/ folder itself (it holds logs/)";
    if (second == "logs") return "is inside alloc/logs, which holds the tasks' logs";
    return "";
  }
  if (top != task_name) return "is inside the directory of another task (\"" + top + "\")";
  if (second.empty()) {
    return "is the task directory itself, which holds secrets/ and private/ (use a folder "
           "inside it, e.g. local)";
  }
  if (second == "private") return "is inside the task's private/ folder";
  if (second == "secrets" && use != path_use::certificate) {
    return "is inside the task's secrets directory, which is never served";
  }
  return "";
}

/// An application, virtual directory or certificate path: relative paths are
/// below the task dir, Windows separators are accepted; the result must be a
/// folder the task may use (refusal_inside_alloc) or, for content, lie in one
/// of allowed_host_paths. Symlinks are checked too, but only as advice: the
/// directory security step never follows them.
std::string resolve_path(const std::string& field, const std::string& raw, const path_rules& rules,
                         path_use use) {
  if (raw.empty()) throw config_error(field, "must not be empty");
  std::string text = raw;
  std::replace(text.begin(), text.end(), '\\', '/');
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '$') {
      throw config_error(field, "\"" + raw + "\" contains a control character or '$'");
    }
  }
  fs::path path(text);
  if (path.is_relative()) path = rules.task_dir / path;
  path = fs::path(strip_trailing_slashes(path.lexically_normal().string()));
  const auto refuse = [&](const std::string& why) {
    throw config_error(field, "\"" + raw + "\" (" + path.string() + ") " + why);
  };
  std::error_code error;
  const fs::path real = fs::weakly_canonical(path, error);
  if (is_within(path, rules.alloc_dir)) {
    if (auto why = refusal_inside_alloc(path, rules.alloc_dir, rules.task_name, use); !why.empty())
      refuse(why);
    const fs::path real_alloc = fs::weakly_canonical(rules.alloc_dir, error);
    if (!real.empty() && real != path) {
      if (!is_within(real, real_alloc)) refuse("leads through a symlink to " + real.string());
      if (auto why = refusal_inside_alloc(real, real_alloc, rules.task_name, use); !why.empty())
        refuse("leads through a symlink to " + real.string() + ", which " + why);
    }
    return path.string();
  }
  if (use == path_use::content && path.is_absolute()) {
    for (const auto& never : rules.never) {
      if (is_within(path, never) || is_within(never, path) ||
          (!real.empty() && (is_within(real, never) || is_within(never, real)))) {
        refuse("overlaps " + never.string() + ", where tasks and the driver keep their files");
      }
    }
    for (const auto& host : rules.host_paths) {
      if (is_within(path, host) &&
          (real.empty() || is_within(real, fs::weakly_canonical(host, error)))) {
        return path.string();
      }
    }
    refuse(
        "is outside the task's directory; a host folder must be listed in the driver option "
        "allowed_host_paths");
  }
  refuse("is outside the task's directory");
  return {};
}

std::string url_path_for(const std::string& base, const std::string& alias) {
  std::string trimmed = alias;
  while (!trimmed.empty() && trimmed.front() == '/') trimmed.erase(0, 1);
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
  if (trimmed.empty()) return base;
  return base + trimmed + "/";
}

/// IIS identities mapped onto Unix accounts. ApplicationPoolIdentity is an
/// account of the pool's own when the plugin is root (as IIS's
/// "IIS AppPool\<name>"); NetworkService is www-data, shared by every pool
/// that uses it, as Windows' NetworkService account is.
std::string user_for_identity(const config::application_pool& pool, const std::string& field,
                              const task_context& task, bool as_root) {
  if (pool.identity == "ApplicationPoolIdentity") {
    return as_root ? pool_user_name(task.alloc_id, task.task_name, pool.name) : "www-data";
  }
  if (pool.identity == "NetworkService") return "www-data";
  if (pool.identity == "LocalService") return "nobody";
  if (pool.identity == "LocalSystem") return "root";
  if (pool.identity == "SpecificUser") {
    if (!pool.username || pool.username->empty()) {
      throw config_error(field + ".username", "is required when identity is \"SpecificUser\"");
    }
    return *pool.username;
  }
  throw config_error(field + ".identity", "unknown identity \"" + pool.identity + "\"");
}

std::string normalise_ip(const std::optional<std::string>& ip) {
  if (!ip || *ip == "*" || ip->empty()) return "";
  std::string bare = *ip;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  return bare;
}

/// The certificate of the https binding `field`; its files resolved as the
/// path rules say.
certificate_plan plan_certificate(const config::binding& binding, const std::string& field,
                                  const std::string& hostname, const path_rules& rules) {
  if (!binding.certificate) throw config_error(field + ".certificate", "is required for https");
  const auto& cert = *binding.certificate;
  const std::string cfield = field + ".certificate";
  certificate_plan cp;
  if (cert.thumbprint) {
    throw config_error(cfield + ".thumbprint", "certificate stores do not exist on Linux");
  } else if (cert.pfx_file) {
    cp.from = certificate_plan::source::pfx_file;
    cp.pfx_file = resolve_path(cfield + ".pfx_file", *cert.pfx_file, rules, path_use::certificate);
    cp.pfx_password = cert.password.value_or("");
  } else if (cert.cert_file && cert.key_file) {
    cp.from = certificate_plan::source::pem_files;
    cp.cert_file =
        resolve_path(cfield + ".cert_file", *cert.cert_file, rules, path_use::certificate);
    cp.key_file = resolve_path(cfield + ".key_file", *cert.key_file, rules, path_use::certificate);
  } else if (cert.use_self_signed) {
    cp.from = certificate_plan::source::self_signed;
    if (!hostname.empty() && hostname != "localhost") cp.hostnames.push_back(hostname);
    cp.hostnames.push_back("localhost");
    cp.hostnames.push_back("127.0.0.1");
  } else {
    throw config_error(cfield, "needs pfx_file, cert_file + key_file or use_self_signed");
  }
  return cp;
}

/// A target_website must be a website block of the driver config that
/// allowed_target_websites allows; its tasks bring no bindings and no root
/// application (the website owns both).
void check_target_website(const config::task_config& config, const config::driver_config& driver) {
  const std::string& name = *config.target_website;
  const auto& allowed = driver.allowed_target_websites;
  if (!driver.find_website(name)) {
    throw config_error("target_website", "\"" + name +
                                             "\" is not declared on this node (no website block "
                                             "with that name in the driver config)");
  }
  if (std::find(allowed.begin(), allowed.end(), name) == allowed.end() &&
      std::find(allowed.begin(), allowed.end(), "*") == allowed.end()) {
    throw config_error("target_website", "\"" + name +
                                             "\" is not allowed on this node (driver option "
                                             "allowed_target_websites)");
  }
  if (!config.bindings.empty()) {
    throw config_error("binding", "a task in target_website \"" + name +
                                      "\" is served on the website's bindings; remove them");
  }
  for (std::size_t i = 0; i < config.applications.size(); ++i) {
    if (url_path_for("/", config.applications[i].alias) == "/") {
      throw config_error("application[" + std::to_string(i) + "].alias",
                         "a task in target_website \"" + name +
                             "\" cannot claim \"/\": the website owns its root");
    }
  }
}

}  // namespace

site_plan plan_site(const config::task_config& config, const task_context& task,
                    const config::driver_config& driver, bool as_root) {
  if (config.target_website) check_target_website(config, driver);
  if (task.alloc_dir.empty() || task.alloc_dir.front() != '/') {
    throw config_error("", "the task has no absolute alloc_dir");
  }
  site_plan plan;
  plan.site_name = site_name_for(task);
  plan.data_dir = strip_trailing_slashes(driver.effective_data_dir()) + "/sites/" + plan.site_name;
  const fs::path alloc_dir(strip_trailing_slashes(fs::path(task.alloc_dir).lexically_normal()));
  path_rules rules{alloc_dir, alloc_dir / task.task_name, task.task_name, {}, {}};
  for (const auto& host : driver.allowed_host_paths) rules.host_paths.emplace_back(host);
  rules.never = {alloc_dir.parent_path(),
                 fs::path(strip_trailing_slashes(driver.effective_data_dir())).lexically_normal()};
  plan.task_dir = rules.task_dir.string();
  plan.secrets_dir = (rules.task_dir / "secrets").string();
  plan.tmp_dir = (rules.task_dir / "tmp").string();
  plan.stdout_path = task.stdout_path.empty() ? "/dev/null" : task.stdout_path;
  plan.stderr_path = task.stderr_path.empty() ? "/dev/null" : task.stderr_path;
  plan.nginx_path = driver.nginx_path;
  plan.placeholder_app_path = driver.placeholder_app_path;
  plan.directory_security = driver.directory_security;
  plan.front_worker_connections = driver.front_worker_connections;
  plan.resources = task.resources;
  plan.website = config.target_website.value_or("");

  auto& ignored = plan.ignored_options;
  if (!config.permit_iusr) ignored.push_back("permit_iusr = false");
  for (std::size_t i = 0; i < config.service_auto_start_providers.size(); ++i) {
    ignored.push_back("service_auto_start_provider \"" +
                      config.service_auto_start_providers[i].name + "\"");
  }

  // Every field the node refuses, in one message (config::validate's rules
  // passed already; these need the node and the task's ports and folders).
  config::problem_list problems;

  // ---- pools ----
  std::set<std::string> pool_names;
  for (const auto& pool : config.application_pools) {
    const std::string field = "application_pool[" + pool.name + "]";
    pool_plan out;
    out.name = pool.name;
    out.start_mode = pool.start_mode.value_or(config::start_mode::on_demand);
    // IIS's processModel.idleTimeout default; 0 turns idle stops off.
    out.idle_timeout = pool.idle_timeout.value_or(std::chrono::minutes(20));
    if (out.idle_timeout->count() <= 0) out.idle_timeout.reset();
    out.periodic_restart = pool.periodic_restart;
    if (out.periodic_restart && out.periodic_restart->count() <= 0) out.periodic_restart.reset();
    if (pool.start_time_limit) out.start_time_limit = *pool.start_time_limit;
    if (pool.shutdown_time_limit) out.shutdown_time_limit = *pool.shutdown_time_limit;
    out.overlapped_recycle = !pool.disable_overlapped_recycle.value_or(false);
    out.unavailable =
        pool.service_unavailable_response.value_or(config::unavailable_response::http_level);
    out.queue_length = pool.queue_length.value_or(1000);  // IIS default
    out.cpu_limit = pool.cpu_limit.value_or(0);
    out.private_memory_limit_kb = pool.private_memory_limit.value_or(0);
    if (*out.queue_length < 10 || *out.queue_length > 65535) {
      problems.add(config_error(field + ".queue_length", "must be between 10 and 65535"));
    }
    problems.check([&] {
      const std::string user = user_for_identity(pool, field, task, as_root);
      if (as_root && pool.identity == "ApplicationPoolIdentity") {
        // Created when the site starts (never here: planning also validates).
        out.managed_user_comment =
            managed_user_comment("pool " + task.alloc_id + "/" + task.task_name + "/" + pool.name);
      } else if (!find_account(user)) {
        throw config_error(field + (pool.identity == "SpecificUser" ? ".username" : ".identity"),
                           "identity " + pool.identity + " runs as the Unix user \"" + user +
                               "\", which does not exist on this node");
      }
      out.run_as_user = user;
    });
    out.env = task.env;
    out.env["TMP"] = plan.tmp_dir;
    out.env["TEMP"] = plan.tmp_dir;
    out.env["TMPDIR"] = plan.tmp_dir;
    out.rapid_fail_max_crashes = driver.rapid_fail_max_crashes;
    out.rapid_fail_interval = driver.rapid_fail_interval;
    if (pool.managed_pipeline_mode) ignored.push_back(field + ".managed_pipeline_mode");
    if (pool.managed_runtime_version) ignored.push_back(field + ".managed_runtime_version");
    if (pool.enable_32bit_app_on_win64) ignored.push_back(field + ".enable_32bit_app_on_win64");
    if (pool.password) ignored.push_back(field + ".password");
    for (const auto& extension : pool.extensions) {
      ignored.push_back(field + ".extension \"" + extension.name + "\"");
    }
    pool_names.insert(out.name);
    plan.pools.push_back(std::move(out));
  }

  // ---- applications ----
  std::set<std::string> url_paths;
  for (std::size_t i = 0; i < config.applications.size(); ++i) {
    const auto& app = config.applications[i];
    const std::string field = "application[" + std::to_string(i) + "]";
    application_plan out;
    out.url_path = url_path_for("/", app.alias);
    problems.check([&] {
      out.physical_path = resolve_path(field + ".path", app.path, rules, path_use::content);
    });
    out.pool = app.application_pool;
    if (!pool_names.count(out.pool)) {
      problems.add(config_error(field + ".application_pool",
                                "no application_pool is named \"" + out.pool + "\""));
    }
    if (!url_paths.insert(out.url_path).second) {
      problems.add(config_error(field + ".alias", "\"" + app.alias + "\" is used twice"));
    }
    for (std::size_t j = 0; j < app.virtual_directories.size(); ++j) {
      const auto& vdir = app.virtual_directories[j];
      const std::string vfield = field + ".virtual_directory[" + std::to_string(j) + "]";
      virtual_directory_plan vout;
      vout.url_path = url_path_for(out.url_path, vdir.alias);
      if (vout.url_path == out.url_path) {
        problems.add(config_error(vfield + ".alias", "must not be empty"));
      }
      problems.check([&] {
        vout.physical_path = resolve_path(vfield + ".path", vdir.path, rules, path_use::content);
      });
      for (const auto& extension : vdir.extensions) {
        ignored.push_back(vfield + ".extension \"" + extension.name + "\"");
      }
      out.virtual_directories.push_back(std::move(vout));
    }
    if (app.enable_preload) ignored.push_back(field + ".enable_preload");
    if (app.service_auto_start_enabled) ignored.push_back(field + ".service_auto_start_enabled");
    if (app.service_auto_start_provider) ignored.push_back(field + ".service_auto_start_provider");
    for (const auto& extension : app.extensions) {
      ignored.push_back(field + ".extension \"" + extension.name + "\"");
    }
    plan.applications.push_back(std::move(out));
  }

  // ---- bindings ----
  std::map<std::pair<std::string, std::int32_t>, config::binding_type> listen_types;
  for (std::size_t i = 0; i < config.bindings.size(); ++i) {
    const auto& binding = config.bindings[i];
    const std::string field = "binding[" + std::to_string(i) + "]";
    binding_plan out;
    out.type = binding.type;
    out.ip = normalise_ip(binding.ip_address);
    out.hostname = binding.hostname.value_or("");
    const bool numeric =
        !binding.port.empty() && std::all_of(binding.port.begin(), binding.port.end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      const long port = binding.port.size() > 5 ? 0 : std::stol(binding.port);
      if (port < 1 || port > 65535) {
        problems.add(config_error(field + ".port",
                                  "static port " + binding.port + " must be between 1 and 65535"));
      }
      out.port = static_cast<std::int32_t>(port);
    } else {
      auto it = std::find_if(task.ports.begin(), task.ports.end(),
                             [&](const port_mapping& p) { return p.label == binding.port; });
      if (it == task.ports.end()) {
        problems.add(config_error(field + ".port", "no port labelled \"" + binding.port +
                                                       "\" in the group's network block"));
      } else {
        out.port = it->value;
      }
    }
    if (!out.ip.empty()) {
      unsigned char buffer[16];
      if (::inet_pton(AF_INET, out.ip.c_str(), buffer) != 1 &&
          ::inet_pton(AF_INET6, out.ip.c_str(), buffer) != 1) {
        problems.add(
            config_error(field + ".ip_address", "\"" + out.ip + "\" is not an IP address"));
      }
    }
    auto [it, inserted] = listen_types.emplace(std::make_pair(out.ip, out.port), out.type);
    if (!inserted && it->second != out.type && out.port > 0) {
      problems.add(config_error(field, "mixes http and https on " +
                                           (out.ip.empty() ? std::string("*") : out.ip) + ":" +
                                           std::to_string(out.port)));
    }
    if (binding.type == config::binding_type::https) {
      out.require_sni = binding.require_sni.value_or(false);
      problems.check(
          [&] { out.certificate = plan_certificate(binding, field, out.hostname, rules); });
    } else if (binding.require_sni) {
      ignored.push_back(field + ".require_sni (http binding)");
    }
    plan.bindings.push_back(std::move(out));
  }
  // The private key of an https binding never reaches the pool's user.
  const bool http_only = !plan.bindings.empty() &&
                         std::all_of(plan.bindings.begin(), plan.bindings.end(), [](const auto& b) {
                           return b.type == config::binding_type::http;
                         });
  // A memory limit recycles a pool by its own workers' memory, and a
  // non-overlapped recycle stops them before new ones start: both keep them.
  if (driver.single_hop_static && plan.pools.size() == 1 && plan.website.empty() && http_only &&
      plan.pools[0].private_memory_limit_kb == 0 && plan.pools[0].overlapped_recycle)
    plan.pools[0].single_hop = true;
  problems.throw_if_any();
  return plan;
}

}  // namespace nomad_iis::iis
