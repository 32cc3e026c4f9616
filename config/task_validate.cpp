// nomad-iis's task config rules (IisTaskHandle.ValidateAndCoerceTaskConfiguration,
// the identity and binding checks) plus what the Linux backend needs to turn
// names into nginx config and file names safely.

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "config/error.hpp"
#include "config/task_config.hpp"
#include "config/text.hpp"

namespace nomad_iis::config {
namespace {

using detail::quote;

constexpr const char* default_pool_name = "default";
constexpr std::size_t max_pool_name_length = 8;
/// Websites whose names start like this belong to other nomad tasks.
constexpr std::string_view nomad_site_prefix = "nomad-";

std::string index_path(const char* block, std::size_t index) {
  return std::string(block) + "[" + std::to_string(index) + "]";
}

std::string pool_path(const application_pool& pool) {
  return pool.declared_at.empty() ? "application_pool(implicit default)" : pool.declared_at;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& value) {
  return std::find(items.begin(), items.end(), value) != items.end();
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// URL path segments for application and virtual directory aliases: ASCII letters,
/// digits, "-._~!()" and any non-ASCII UTF-8 (already validated). Everything else
/// (spaces, quotes, ';', '{', '%', '?', '#', '\\' ...) could change the meaning
/// of the generated nginx location or of the URL, so it is refused.
void check_alias(const std::string& path, const std::string& alias) {
  std::size_t start = 0;
  while (start <= alias.size()) {
    std::size_t end = alias.find('/', start);
    if (end == std::string::npos) end = alias.size();
    const std::string_view segment(alias.data() + start, end - start);
    if (segment.empty())
      throw config_error(path, quote(alias) + " contains an empty segment (\"//\")");
    if (segment == "." || segment == "..") {
      throw config_error(path, quote(alias) + " contains a \".\" or \"..\" segment");
    }
    for (char c : segment) {
      const auto u = static_cast<unsigned char>(c);
      const bool ok = is_ascii_alnum(c) || u >= 0x80 ||
                      std::string_view("-._~!()").find(c) != std::string_view::npos;
      if (!ok) {
        throw config_error(path, quote(alias) + " contains the character " +
                                     quote(std::string_view(&c, 1)) +
                                     " (allowed: letters, digits, -._~!() and /)");
      }
    }
    start = end + 1;
  }
}

/// Pool names end up in process titles, file names and Unix user names.
void check_pool_name(const std::string& path, const std::string& name) {
  if (name.empty()) throw config_error(path, "must not be empty");
  if (name.size() > max_pool_name_length) {
    throw config_error(path, quote(name) + " is longer than 8 characters");
  }
  for (char c : name) {
    if (!is_ascii_alnum(c) && c != '-' && c != '_' && c != '.') {
      throw config_error(path, quote(name) + " may only contain letters, digits, '-', '_' and '.'");
    }
  }
  if (name.front() == '.') throw config_error(path, quote(name) + " must not start with '.'");
}

/// A DNS name or a "*." wildcard, as IIS host headers and nginx server_name take.
void check_hostname(const std::string& path, const std::string& hostname) {
  std::string_view rest = hostname;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  bool ok = !rest.empty() && hostname.size() <= 253 && rest.front() != '.' && rest.back() != '.' &&
            rest.find("..") == std::string_view::npos;
  for (char c : rest) {
    if (!is_ascii_alnum(c) && c != '-' && c != '.' && c != '_') ok = false;
  }
  if (!ok) {
    throw config_error(path, quote(hostname) +
                                 " is not a host name (letters, digits, '-', '_', '.' and an "
                                 "optional leading \"*.\")");
  }
}

/// "*" (all addresses, IIS's spelling), an IPv4 or an IPv6 address (brackets optional).
void check_ip_address(const std::string& path, const std::string& ip) {
  if (ip == "*") return;
  unsigned char buffer[16];
  std::string bare = ip;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
    if (inet_pton(AF_INET6, bare.c_str(), buffer) == 1) return;
  } else if (inet_pton(AF_INET, bare.c_str(), buffer) == 1 ||
             inet_pton(AF_INET6, bare.c_str(), buffer) == 1) {
    return;
  }
  throw config_error(path, quote(ip) + " is not an IP address (or \"*\")");
}

/// The static port in `port`, if it is a number; labels give nullopt.
std::optional<int> check_port(const std::string& path, const std::string& port) {
  const bool negative = !port.empty() && port.front() == '-';
  const std::string_view digits = std::string_view(port).substr(negative ? 1 : 0);
  const bool numeric = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    const auto significant = digits.find_first_not_of('0');
    const bool too_big = significant != std::string_view::npos && digits.size() - significant > 5;
    const long value = too_big ? 0 : std::stol(std::string(digits));
    if (negative || too_big || value < 1 || value > 65535) {
      throw config_error(path, "static port " + quote(port) + " must be between 1 and 65535");
    }
    return static_cast<int>(value);
  }
  for (char c : port) {
    if (!is_ascii_alnum(c) && c != '_' && c != '-') {
      throw config_error(
          path, quote(port) + " is neither a port number nor a port label of the network block");
    }
  }
  return std::nullopt;
}

void validate_applications(problem_list& p, const task_config& config) {
  std::map<std::string, std::size_t> aliases;
  for (std::size_t i = 0; i < config.applications.size(); ++i) {
    const application& app = config.applications[i];
    const std::string path = index_path("application", i);
    p.check([&] {
      if (app.application_pool.find_first_not_of(" \t") == std::string::npos)
        throw config_error(path + ".application_pool", "must not be empty");
    });
    p.check([&] {
      if (!app.alias.empty()) check_alias(path + ".alias", app.alias);
      auto [it, inserted] = aliases.emplace(app.alias, i);
      if (inserted) return;
      throw config_error(
          path + ".alias",
          app.alias.empty()
              ? "a second root application (no alias); " + index_path("application", it->second) +
                    " is the root already"
              : quote(app.alias) + " is already used by " + index_path("application", it->second));
    });
    std::map<std::string, std::size_t> vdir_aliases;
    for (std::size_t j = 0; j < app.virtual_directories.size(); ++j) {
      p.check([&] {
        const std::string vdir_path = path + "." + index_path("virtual_directory", j) + ".alias";
        const std::string& alias = app.virtual_directories[j].alias;
        check_alias(vdir_path, alias);
        auto [vit, vinserted] = vdir_aliases.emplace(alias, j);
        if (!vinserted) {
          throw config_error(vdir_path, quote(alias) + " is already used by " + path + "." +
                                            index_path("virtual_directory", vit->second));
        }
      });
    }
  }
}

void validate_pools(problem_list& p, const task_config& config) {
  std::map<std::string, const application_pool*> names;
  for (const application_pool& pool : config.application_pools) {
    // Known even when its name is bad: its applications are no further problem.
    auto [it, inserted] = names.emplace(pool.name, &pool);
    p.check([&] {
      const std::string path = pool_path(pool) + ".name";
      check_pool_name(path, pool.name);
      if (!inserted) {
        throw config_error(path,
                           quote(pool.name) + " is already used by " + pool_path(*it->second));
      }
    });
  }
  for (std::size_t i = 0; i < config.applications.size(); ++i) {
    const std::string& wanted = config.applications[i].application_pool;
    if (wanted == default_pool_name || names.count(wanted)) continue;
    std::vector<std::string> known{quote(default_pool_name)};
    for (const auto& [name, pool] : names) {
      if (name != default_pool_name) known.push_back(quote(name));
    }
    p.add(config_error(
        index_path("application", i) + ".application_pool",
        "no application_pool is named " + quote(wanted) + " (declared: " + join(known) + ")"));
  }
}

void validate_identity(const application_pool& pool, const driver_config& driver) {
  const std::string path = pool_path(pool);
  const auto& allowed = driver.allowed_apppool_identities;
  if (!contains(allowed, pool.identity)) {
    throw config_error(path + ".identity",
                       quote(pool.identity) + " is not allowed on this node (" +
                           (allowed.empty() ? std::string("no identities are allowed")
                                            : "allowed: " + join(allowed)) +
                           ")");
  }
  if (pool.identity != "SpecificUser") return;
  if (!pool.username || pool.username->find_first_not_of(" \t") == std::string::npos) {
    throw config_error(path + ".username", "is required when identity is \"SpecificUser\"");
  }
  const auto& users = driver.allowed_apppool_users;
  if (!contains(users, "*") && !contains(users, *pool.username)) {
    throw config_error(
        path + ".username",
        quote(*pool.username) + " is not allowed on this node (" +
            (users.empty() ? std::string("no users are allowed") : "allowed: " + join(users)) +
            ")");
  }
}

void validate_target_website(problem_list& p, const task_config& config,
                             const driver_config& driver) {
  if (!config.target_website) return;
  const std::string& site = *config.target_website;
  if (!contains(driver.allowed_target_websites, "*") &&
      !contains(driver.allowed_target_websites, site)) {
    p.add(config_error("target_website", quote(site) + " is not allowed on this node"));
  } else if (site.compare(0, nomad_site_prefix.size(), nomad_site_prefix) == 0) {
    p.add(config_error("target_website", quote(site) +
                                             " is a website of another nomad task and cannot be a "
                                             "target_website"));
  }
  for (std::size_t i = 0; i < config.applications.size(); ++i) {
    if (config.applications[i].alias.empty()) {
      p.add(config_error(index_path("application", i) + ".alias",
                         "a root application (no alias) is not allowed with a target_website"));
    }
  }
}

void validate_certificate(const std::string& path, const binding& b) {
  if (b.type == binding_type::http) {
    if (b.certificate) {
      throw config_error(path + ".certificate", "only https bindings take a certificate block");
    }
    return;
  }
  if (!b.certificate) {
    throw config_error(path + ".certificate", "an https binding needs a certificate block");
  }
  const certificate& cert = *b.certificate;
  const std::string cert_path = path + ".certificate[0]";
  if (cert.thumbprint) {
    throw config_error(cert_path + ".thumbprint",
                       "certificate stores do not exist on Linux; use pem files (cert_file and "
                       "key_file) or a pfx_file");
  }
  if (cert.cert_file.has_value() != cert.key_file.has_value()) {
    throw config_error(cert_path + (cert.cert_file ? ".key_file" : ".cert_file"),
                       "cert_file and key_file must be given together");
  }
  std::vector<std::string> sources;
  if (cert.pfx_file) sources.emplace_back("pfx_file");
  if (cert.cert_file) sources.emplace_back("cert_file + key_file");
  if (cert.use_self_signed) sources.emplace_back("use_self_signed");
  if (sources.size() != 1) {
    throw config_error(cert_path,
                       "exactly one of pfx_file, cert_file + key_file or "
                       "use_self_signed = true must be given, got " +
                           (sources.empty() ? std::string("none") : join(sources)));
  }
}

/// One binding's own checks; returns its port in canonical form.
std::string validate_binding(problem_list& p, const std::string& path, const binding& b) {
  std::optional<int> static_port;
  p.check([&] {
    static_port = check_port(path + ".port", b.port);
    if (static_port && !b.hostname) {
      throw config_error(path + ".port", "static port " + quote(b.port) +
                                             " needs a hostname; without one use a port label "
                                             "from the group's network block");
    }
  });
  p.check([&] {
    if (b.hostname) check_hostname(path + ".hostname", *b.hostname);
  });
  p.check([&] {
    if (b.ip_address) check_ip_address(path + ".ip_address", *b.ip_address);
  });
  p.check([&] { validate_certificate(path, b); });
  if (b.type == binding_type::https && b.require_sni.value_or(false) && !b.hostname) {
    p.add(config_error(path + ".require_sni", "needs a hostname"));
  }
  return static_port ? std::to_string(*static_port) : b.port;
}

/// Checks the bindings; returns their ports in canonical form ("0080" -> "80").
std::vector<std::string> validate_bindings(problem_list& p, const task_config& config) {
  std::vector<std::string> ports;
  // ip, port, hostname: two bindings with the same triple would collide in nginx as in IIS.
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> seen;
  for (std::size_t i = 0; i < config.bindings.size(); ++i) {
    const binding& b = config.bindings[i];
    const std::string path = index_path("binding", i);
    const std::string port = validate_binding(p, path, b);
    const std::string ip = b.ip_address && *b.ip_address != "*" ? *b.ip_address : "";
    ports.push_back(port);
    auto [it, inserted] = seen.emplace(std::make_tuple(ip, port, b.hostname.value_or("")), i);
    if (!inserted) {
      p.add(config_error(path, "has the same ip_address, port and hostname as " +
                                   index_path("binding", it->second)));
    }
  }
  return ports;
}

void validate_providers(problem_list& p, const task_config& config) {
  std::map<std::string, std::size_t> names;
  for (std::size_t i = 0; i < config.service_auto_start_providers.size(); ++i) {
    const auto& provider = config.service_auto_start_providers[i];
    auto [it, inserted] = names.emplace(provider.name, i);
    if (!inserted) {
      p.add(config_error(index_path("service_auto_start_provider", i) + ".name",
                         quote(provider.name) + " is already used by " +
                             index_path("service_auto_start_provider", it->second)));
    }
  }
}

}  // namespace

void validate(task_config& config, const driver_config& driver) {
  problem_list p;
  if (config.applications.empty()) {
    p.add(config_error("application", "at least 1 application block must be given"));
  }
  if (config.bindings.size() > 64) {
    throw config_error("binding", "at most 64 binding blocks are allowed");
  }
  validate_applications(p, config);
  validate_pools(p, config);

  // Work on a copy of the pools so a failed check leaves config untouched.
  std::vector<application_pool> pools = config.application_pools;
  std::set<std::string> used;
  for (const application& app : config.applications) used.insert(app.application_pool);
  if (used.count(default_pool_name) &&
      std::none_of(pools.begin(), pools.end(),
                   [](const application_pool& p) { return p.name == default_pool_name; })) {
    application_pool implicit;
    implicit.name = default_pool_name;
    pools.push_back(std::move(implicit));
  }
  // Pools no application runs in are dropped, as the original did; only the
  // pools that will run are held to the identity rules.
  pools.erase(std::remove_if(pools.begin(), pools.end(),
                             [&](const application_pool& p) { return used.count(p.name) == 0; }),
              pools.end());
  for (const application_pool& pool : pools) p.check([&] { validate_identity(pool, driver); });

  validate_target_website(p, config, driver);
  std::vector<std::string> ports = validate_bindings(p, config);
  validate_providers(p, config);
  // Every broken rule in one message; config stays untouched then.
  p.throw_if_any();
  config.application_pools = std::move(pools);
  for (std::size_t i = 0; i < ports.size(); ++i) config.bindings[i].port = std::move(ports[i]);
}

}  // namespace nomad_iis::config
