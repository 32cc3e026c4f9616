#include "iis/website.hpp"

#include <arpa/inet.h>

#include <cstdio>

#include "config/error.hpp"

namespace nomad_iis::iis {

site_plan plan_website(const config::website_config& site, const config::driver_config& driver) {
  using config::config_error;
  const std::string field = "website[" + site.name + "]";
  site_plan plan;
  plan.site_name = "website-" + site.name;
  plan.website = site.name;
  std::string data_dir = driver.effective_data_dir();
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  plan.data_dir = data_dir + "/websites/" + site.name;
  plan.stdout_path = plan.data_dir + "/logs/access.log";
  plan.stderr_path = plan.data_dir + "/logs/error.log";
  plan.nginx_path = driver.nginx_path;
  plan.front_worker_connections = driver.front_worker_connections;
  plan.website_root = site.physical_path.value_or("");
  config::problem_list problems;
  for (std::size_t i = 0; i < site.bindings.size(); ++i) {
    const auto& binding = site.bindings[i];
    const std::string bfield = field + ".binding[" + std::to_string(i) + "]";
    binding_plan out;
    out.type = binding.type;
    out.ip = binding.ip_address && *binding.ip_address != "*" ? *binding.ip_address : "";
    if (out.ip.size() > 2 && out.ip.front() == '[' && out.ip.back() == ']')
      out.ip = out.ip.substr(1, out.ip.size() - 2);
    unsigned char buffer[16];
    if (!out.ip.empty() && ::inet_pton(AF_INET, out.ip.c_str(), buffer) != 1 &&
        ::inet_pton(AF_INET6, out.ip.c_str(), buffer) != 1) {
      problems.add(config_error(bfield + ".ip_address", "\"" + out.ip + "\" is not an IP address"));
    }
    out.port = static_cast<std::int32_t>(std::stol(binding.port));  // checked on decode
    out.hostname = binding.hostname.value_or("");
    out.require_sni = binding.require_sni.value_or(false);
    if (binding.type == config::binding_type::https && binding.certificate) {
      certificate_plan cert;
      const auto& given = *binding.certificate;
      if (given.use_self_signed) {
        cert.from = certificate_plan::source::self_signed;
        if (!out.hostname.empty() && out.hostname != "localhost")
          cert.hostnames.push_back(out.hostname);
        cert.hostnames.push_back("localhost");
        cert.hostnames.push_back("127.0.0.1");
      } else {
        cert.from = certificate_plan::source::pem_files;
        cert.cert_file = given.cert_file.value_or("");
        cert.key_file = given.key_file.value_or("");
      }
      out.certificate = cert;
    }
    plan.bindings.push_back(std::move(out));
  }
  problems.throw_if_any();
  return plan;
}

std::string website_member_key(const std::string& site_name) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : site_name) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::vector<std::string> claimed_paths(const site_plan& plan) {
  std::vector<std::string> paths;
  for (const auto& app : plan.applications) {
    paths.push_back(app.url_path);
    for (const auto& vdir : app.virtual_directories) paths.push_back(vdir.url_path);
  }
  return paths;
}

}  // namespace nomad_iis::iis
