#include "config/driver_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "config/error.hpp"
#include "config/msgpack_reader.hpp"
#include "config/task_config.hpp"
#include "config/text.hpp"

namespace nomad_iis::config {
namespace {

using detail::fields;
using detail::get_bool;
using detail::get_duration;
using detail::get_int;
using detail::get_string;
using detail::get_string_list;
using detail::get_uint;

constexpr duration min_fingerprint_interval = std::chrono::seconds(10);
/// Upper bound for the worker-count options: each screenshot is a ~220 MB Chromium.
constexpr std::int64_t max_concurrency = 64;

/// A duration option that must be positive (and, for some, at least `min`).
void read_positive_duration(const fields& f, std::string_view key, duration& out,
                            duration min = duration(1), const char* min_text = "1ms") {
  auto value = get_duration(f, key);
  if (!value) return;
  if (*value < min) {
    throw config_error(f.path_of(key), std::string("must be at least ") + min_text + ", got " +
                                           detail::quote(*get_string(f, key)));
  }
  out = *value;
}

void read_path(const fields& f, std::string_view key, std::string& out, bool may_be_empty) {
  auto value = get_string(f, key);
  if (!value) return;
  if (value->empty() && !may_be_empty) throw config_error(f.path_of(key), "must not be empty");
  out = std::move(*value);
}

/// An allowed_host_paths entry: absolute, without "." or ".." segments, not
/// "/" itself (that would allow the alloc dirs); returned without trailing '/'.
std::string checked_host_path(const std::string& field, const std::string& path) {
  if (path.empty() || path.front() != '/')
    throw config_error(field, detail::quote(path) + " must be an absolute path");
  std::string out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..")
      throw config_error(field, detail::quote(path) + " must not contain \".\" or \"..\"");
    out += "/" + part;
  }
  if (out.empty()) throw config_error(field, "\"/\" would allow every folder of the host");
  return out;
}

bool is_website_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

/// A website's binding: a static port, and for https PEM files given by
/// absolute path or a self-signed certificate.
void check_website_binding(const std::string& path, binding& b) {
  const bool numeric =
      !b.port.empty() && b.port.size() <= 5 &&
      std::all_of(b.port.begin(), b.port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!numeric || std::stol(b.port) < 1 || std::stol(b.port) > 65535)
    throw config_error(path + ".port", detail::quote(b.port) +
                                           " must be a static port (1-65535): a website "
                                           "belongs to the node, not to a group network");
  b.port = std::to_string(std::stol(b.port));
  if (b.type == binding_type::http) {
    if (b.certificate)
      throw config_error(path + ".certificate", "only https bindings take a certificate block");
    return;
  }
  const std::string cert_path = path + ".certificate[0]";
  if (!b.certificate) throw config_error(path + ".certificate", "an https binding needs one");
  const auto& cert = *b.certificate;
  if (cert.thumbprint || cert.pfx_file)
    throw config_error(cert_path, "a website takes cert_file + key_file or use_self_signed");
  if (cert.use_self_signed == (cert.cert_file || cert.key_file))
    throw config_error(cert_path, "exactly one of cert_file + key_file or use_self_signed = true");
  for (const auto* file : {&cert.cert_file, &cert.key_file}) {
    if (!cert.use_self_signed && (!*file || (*file)->front() != '/'))
      throw config_error(cert_path, "cert_file and key_file must both be absolute paths");
  }
}

website_config decode_website(problem_list& p, const fields& f) {
  website_config site;
  p.check([&] {
    site.name = detail::get_required_string(f, "name");
    if (!is_website_name(site.name))
      throw config_error(f.path_of("name"),
                         detail::quote(site.name) + " must be 1-64 characters of [A-Za-z0-9._-]");
  });
  p.check([&] {
    auto root = detail::get_nonempty_string(f, "physical_path");
    if (root) site.physical_path = checked_host_path(f.path_of("physical_path"), *root);
  });
  std::vector<fields> bindings;
  p.check([&] { bindings = detail::get_blocks(f, "bindings", "binding", 1, 64); });
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    binding b = decode_binding(p, bindings[i]);
    p.check([&] { check_website_binding(bindings[i].path(), b); });
    site.bindings.push_back(std::move(b));
  }
  return site;
}

}  // namespace

driver_config decode_driver_config(std::string_view msgpack_bytes) {
  driver_config config;
  // Without a schema Nomad sends nothing; we always have one, but an empty
  // SetConfig (e.g. from a test harness) means "all defaults".
  if (msgpack_bytes.empty()) return config;
  const msgpack::object_handle handle = detail::unpack_whole(msgpack_bytes);
  if (handle.get().type == msgpack::type::NIL) return config;  // a null block: defaults too
  const fields root(handle.get(), "");

  problem_list p;
  p.check([&] {
    if (auto v = get_bool(root, "enabled")) config.enabled = *v;
  });
  p.check([&] {
    read_positive_duration(root, "fingerprint_interval", config.fingerprint_interval,
                           min_fingerprint_interval, "10s");
  });
  p.check([&] {
    if (auto v = get_bool(root, "directory_security")) config.directory_security = *v;
  });
  p.check([&] {
    if (auto v = get_string_list(root, "allowed_target_websites"))
      config.allowed_target_websites = std::move(*v);
  });
  p.check([&] {
    auto v = get_string_list(root, "allowed_apppool_identities");
    if (!v) return;
    for (std::size_t i = 0; i < v->size(); ++i) {
      p.check([&] {
        detail::match_name(
            root.path_of("allowed_apppool_identities") + "[" + std::to_string(i) + "]", (*v)[i],
            {"ApplicationPoolIdentity", "LocalSystem", "LocalService", "NetworkService",
             "SpecificUser"},
            false);
      });
    }
    config.allowed_apppool_identities = std::move(*v);
  });
  p.check([&] {
    if (auto v = get_string_list(root, "allowed_apppool_users"))
      config.allowed_apppool_users = std::move(*v);
  });
  p.check([&] {
    auto v = get_string_list(root, "allowed_host_paths");
    if (!v) return;
    for (std::size_t i = 0; i < v->size(); ++i) {
      p.check([&] {
        (*v)[i] = checked_host_path(
            root.path_of("allowed_host_paths") + "[" + std::to_string(i) + "]", (*v)[i]);
      });
    }
    config.allowed_host_paths = std::move(*v);
  });
  p.check([&] {
    for (const fields& block : detail::get_blocks(root, "websites", "website", 0, 0)) {
      auto site = decode_website(p, block);
      if (config.find_website(site.name))
        p.add(config_error(block.path_of("name"), detail::quote(site.name) + " is declared twice"));
      else
        config.websites.push_back(std::move(site));
    }
  });
  p.check([&] { read_path(root, "placeholder_app_path", config.placeholder_app_path, true); });
  p.check([&] {
    auto procdumps = detail::get_blocks(root, "procdumps", "procdump", 0, 1);
    if (procdumps.empty()) return;
    procdump_config procdump;
    p.check([&] { read_path(procdumps.front(), "binary_path", procdump.binary_path, false); });
    p.check([&] {
      if (auto v = get_bool(procdumps.front(), "accept_eula")) procdump.accept_eula = *v;
    });
    config.procdump = std::move(procdump);
  });

  p.check([&] { read_path(root, "nginx_path", config.nginx_path, false); });
  p.check([&] { read_path(root, "chromium_path", config.chromium_path, false); });
  p.check([&] {
    read_path(root, "data_dir", config.data_dir, true);
    if (!config.data_dir.empty() && config.data_dir.front() != '/')
      throw config_error("data_dir", detail::quote(config.data_dir) + " must be an absolute path");
  });
  p.check([&] {
    if (auto v =
            get_int(root, "rapid_fail_max_crashes", 1, std::numeric_limits<std::int32_t>::max()))
      config.rapid_fail_max_crashes = *v;
  });
  p.check([&] { read_positive_duration(root, "rapid_fail_interval", config.rapid_fail_interval); });
  p.check([&] {
    if (auto v = get_bool(root, "single_hop_static")) config.single_hop_static = *v;
  });
  p.check([&] {
    if (auto v = get_int(root, "front_worker_connections", 64, 1 << 20))
      config.front_worker_connections = *v;
  });

  constexpr auto uint_max = std::numeric_limits<std::uint64_t>::max();
  p.check([&] {
    if (auto v = get_uint(root, "upload_max_bytes", 1, uint_max)) config.upload_max_bytes = *v;
  });
  p.check([&] {
    if (auto v = get_uint(root, "zip_max_entries", 1, uint_max)) config.zip_max_entries = *v;
  });
  p.check([&] {
    if (auto v = get_uint(root, "zip_max_uncompressed_bytes", 1, uint_max))
      config.zip_max_uncompressed_bytes = *v;
  });
  p.check([&] {
    if (auto v = get_uint(root, "zip_max_ratio", 0, 1000000)) config.zip_max_ratio = *v;
  });
  p.check([&] {
    if (auto v = get_bool(root, "allow_secrets_access")) config.allow_secrets_access = *v;
  });
  p.check([&] {
    if (auto v = get_int(root, "screenshot_concurrency", 1, max_concurrency))
      config.screenshot_concurrency = *v;
  });
  p.check([&] { read_positive_duration(root, "screenshot_timeout", config.screenshot_timeout); });
  p.check([&] {
    if (auto v = get_int(root, "procdump_concurrency", 1, max_concurrency))
      config.procdump_concurrency = *v;
  });
  p.check([&] {
    read_positive_duration(root, "request_header_timeout", config.request_header_timeout);
  });
  p.check([&] {
    if (auto v = get_int(root, "management_api_max_connections_per_client", 1, 1 << 20))
      config.management_api_max_connections_per_client = *v;
  });
  // Every bad option in one message, rather than only the first.
  p.throw_if_any();
  return config;
}

std::string default_data_dir(std::uint32_t uid, std::string_view tmpdir) {
  if (uid == 0) return "/var/lib/nomad_iis";
  std::string base = !tmpdir.empty() && tmpdir.front() == '/' ? std::string(tmpdir) : "/tmp";
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/nomad_iis-" + std::to_string(uid);
}

const website_config* driver_config::find_website(const std::string& name) const {
  for (const auto& site : websites) {
    if (site.name == name) return &site;
  }
  return nullptr;
}

std::string driver_config::effective_data_dir() const {
  if (!data_dir.empty()) return data_dir;
  const char* tmpdir = std::getenv("TMPDIR");
  return default_data_dir(static_cast<std::uint32_t>(geteuid()), tmpdir ? tmpdir : "");
}

}  // namespace nomad_iis::config
