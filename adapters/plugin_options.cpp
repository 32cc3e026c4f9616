#include "adapters/plugin_options.hpp"

#include <stdexcept>

namespace nomad_iis {
namespace {

std::int64_t parse_port(const std::string& name, const std::string& value) {
  std::size_t used = 0;
  long long port = -1;
  try {
    port = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || port < 0 || port > 65535)
    throw std::invalid_argument("--" + name + ": \"" + value + "\" is not a port number (0-65535)");
  return port;
}

}  // namespace

plugin_options parse_plugin_options(const std::vector<std::string>& args) {
  plugin_options opts;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg.rfind("--", 0) != 0)
      throw std::invalid_argument("unexpected argument \"" + arg +
                                  "\" (options look like --name=value)");
    std::string name = arg.substr(2);
    std::string value;
    auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    } else {
      throw std::invalid_argument("--" + name + " needs a value");
    }
    if (name == "log-level") {
      if (value != "trace" && value != "debug" && value != "info" && value != "warn" &&
          value != "error")
        throw std::invalid_argument("--log-level: \"" + value +
                                    "\" is not one of trace, debug, info, warn, error");
      opts.log_level = value;
    } else if (name == "management-api-port") {
      opts.management_api_port = parse_port(name, value);
    } else if (name == "management-api-key") {
      opts.management_api_key = value;
    } else if (name == "management-api-jwt-secret") {
      opts.management_api_jwt_secret = value;
    } else if (name == "management-api-bind") {
      opts.management_api_bind = value;
    } else if (name == "management-api-tls-cert") {
      opts.management_api_tls_cert = value;
    } else if (name == "management-api-tls-key") {
      opts.management_api_tls_key = value;
    } else if (name == "port") {
      // nomad-iis on Windows served gRPC on a fixed port; we use a unix socket.
      parse_port(name, value);
      opts.ignored.push_back("--port");
    } else {
      throw std::invalid_argument("unknown argument --" + name);
    }
  }
  if (opts.management_api_tls_cert.empty() != opts.management_api_tls_key.empty())
    throw std::invalid_argument(
        "--management-api-tls-cert and --management-api-tls-key must be given together");
  return opts;
}

}  // namespace nomad_iis
