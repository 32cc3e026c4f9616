#pragma once
// The plugin's command-line arguments, as given in the agent config's
// plugin "nomad_iis" { args = [...] } block.

#include <cstdint>
#include <string>
#include <vector>

namespace nomad_iis {

struct plugin_options {
  std::string log_level = "info";
  std::int64_t management_api_port = 0;   ///< 0 = Management API off
  std::string management_api_key;         ///< a secret
  std::string management_api_jwt_secret;  ///< a secret
  std::string management_api_bind;        ///< "" = 0.0.0.0, or 127.0.0.1 without auth
  std::string management_api_tls_cert;
  std::string management_api_tls_key;
  /// Arguments that were accepted for compatibility but mean nothing here.
  std::vector<std::string> ignored;

  bool management_api_enabled() const { return management_api_port > 0; }
  bool management_api_authenticated() const {
    return !management_api_key.empty() || !management_api_jwt_secret.empty();
  }
};

/// Parses `--name=value` and `--name value`. Throws std::invalid_argument
/// naming the bad argument (values of secret options are never echoed).
plugin_options parse_plugin_options(const std::vector<std::string>& args);

}  // namespace nomad_iis
