#pragma once
// The plugin's command-line arguments, as given in the agent config's
// plugin "nomad_iis" { args = [...] } block, plus the secrets that may come
// from files or the environment instead (every local user can read a
// process's arguments in /proc/<pid>/cmdline; its environment only root).

#include <cstdint>
#include <functional>
#include <optional>
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
  /// Secret arguments given on the command line (names only, for a warning).
  std::vector<std::string> unsafe_secret_arguments;

  bool management_api_enabled() const { return management_api_port > 0; }
  bool management_api_authenticated() const {
    return !management_api_key.empty() || !management_api_jwt_secret.empty();
  }
};

/// Environment variables holding the secrets (a Nomad agent passes its
/// environment to its plugins).
inline constexpr const char* api_key_variable = "NOMAD_IIS_MANAGEMENT_API_KEY";
inline constexpr const char* jwt_secret_variable = "NOMAD_IIS_MANAGEMENT_API_JWT_SECRET";

/// Looks up an environment variable (nullopt when unset).
using env_lookup = std::function<std::optional<std::string>(const char* name)>;

/// Parses `--name=value` and `--name value`. Each secret may come from one
/// source: `--X-file=F` (read now, one trailing newline stripped), its
/// environment variable, or `--X=value` (unsafe); two sources are an error
/// naming both. Throws std::invalid_argument naming the bad argument
/// (values of secret options are never echoed).
plugin_options parse_plugin_options(const std::vector<std::string>& args, const env_lookup& env);

/// Overwrites the values of secret arguments in the process's own argument
/// memory, so /proc/<pid>/cmdline no longer shows them. `argv` as given to
/// main; returns how many values were wiped.
int wipe_secret_arguments(int argc, char** argv);

}  // namespace nomad_iis
