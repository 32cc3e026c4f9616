#include "adapters/plugin_options.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace nomad_iis {
namespace {

/// A secret file larger than this is a wrong path, not a key.
constexpr std::size_t max_secret_file_bytes = 64 << 10;

/// One secret and where it may come from.
struct secret_source {
  const char* argument;  ///< without "--"
  const char* variable;
};

constexpr secret_source api_key_source{"management-api-key", api_key_variable};
constexpr secret_source jwt_secret_source{"management-api-jwt-secret", jwt_secret_variable};

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

std::string read_secret_file(const std::string& argument, const std::string& path) {
  const std::string what = "--" + argument + "-file: " + path + ": ";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(what + "cannot be read (" + std::strerror(errno) + ")");
  std::string text;
  text.resize(max_secret_file_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw std::invalid_argument(what + "cannot be read");
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_secret_file_bytes)
    throw std::invalid_argument(what + "is larger than 64 KiB");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) throw std::invalid_argument(what + "is empty");
  return text;
}

/// The secrets as given, before the one-source rule is applied.
struct secret_inputs {
  std::optional<std::string> argument;
  std::optional<std::string> file;
};

std::string resolve_secret(const secret_source& source, const secret_inputs& given,
                           const env_lookup& env, std::vector<std::string>& unsafe) {
  std::vector<std::string> sources;
  std::string value;
  if (given.file) {
    sources.push_back("--" + std::string(source.argument) + "-file");
    value = read_secret_file(source.argument, *given.file);
  }
  if (auto from_env = env ? env(source.variable) : std::nullopt) {
    if (from_env->empty())
      throw std::invalid_argument(std::string("environment variable ") + source.variable +
                                  " is set but empty");
    sources.push_back(std::string("environment variable ") + source.variable);
    value = *from_env;
  }
  if (given.argument) {
    sources.push_back("--" + std::string(source.argument));
    value = *given.argument;
    unsafe.push_back(sources.back());
  }
  if (sources.size() > 1)
    throw std::invalid_argument("the secret of --" + std::string(source.argument) +
                                " is given twice (" + sources[0] + " and " + sources[1] +
                                "); give it one way");
  return value;
}

bool is_secret_argument(std::string_view name) {
  return name == api_key_source.argument || name == jwt_secret_source.argument;
}

}  // namespace

plugin_options parse_plugin_options(const std::vector<std::string>& args, const env_lookup& env) {
  plugin_options opts;
  secret_inputs key, jwt;
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
    } else if (name == api_key_source.argument) {
      key.argument = value;
    } else if (name == jwt_secret_source.argument) {
      jwt.argument = value;
    } else if (name == std::string(api_key_source.argument) + "-file") {
      key.file = value;
    } else if (name == std::string(jwt_secret_source.argument) + "-file") {
      jwt.file = value;
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
  opts.management_api_key = resolve_secret(api_key_source, key, env, opts.unsafe_secret_arguments);
  opts.management_api_jwt_secret =
      resolve_secret(jwt_secret_source, jwt, env, opts.unsafe_secret_arguments);
  return opts;
}

int wipe_secret_arguments(int argc, char** argv) {
  int wiped = 0;
  auto wipe = [&](char* value) {
    if (*value == '\0') return;
    std::memset(value, '*', std::strlen(value));
    ++wiped;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    const auto eq = arg.find('=');
    if (!is_secret_argument(arg.substr(2, eq == std::string_view::npos ? arg.npos : eq - 2)))
      continue;
    if (eq != std::string_view::npos)
      wipe(argv[i] + eq + 1);
    else if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0)
      wipe(argv[++i]);
  }
  return wiped;
}

}  // namespace nomad_iis
