// libFuzzer target for the config decoders: arbitrary bytes through
// decode_task_config + validate and decode_driver_config. Any outcome but a
// config_error or success is a bug (a crash, a sanitizer report, another
// exception escaping). Built and run by scripts/fuzz.sh only.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "config/driver_config.hpp"
#include "config/error.hpp"
#include "config/task_config.hpp"
#include "config/text.hpp"

namespace cfg = nomad_iis::config;

namespace {

/// Error messages end up in protobuf strings, which must be valid UTF-8.
void check_message(const cfg::config_error& e) {
  if (!cfg::detail::is_valid_utf8(e.what())) __builtin_trap();
}

/// What validate promises about a config it accepted.
void check_invariants(const cfg::task_config& config) {
  std::set<std::string> pools;
  for (const auto& pool : config.application_pools) {
    if (pool.name.empty() || pool.name.size() > 8) __builtin_trap();
    if (!pools.insert(pool.name).second) __builtin_trap();
  }
  std::set<std::string> aliases;
  for (const auto& app : config.applications) {
    if (!pools.count(app.application_pool)) __builtin_trap();
    if (!aliases.insert(app.alias).second) __builtin_trap();
  }
  if (config.applications.empty() || config.bindings.size() > 64) __builtin_trap();
  for (const auto& b : config.bindings) {
    if (b.type == cfg::binding_type::https && !b.certificate) __builtin_trap();
  }
}

void fuzz_task(std::string_view bytes) {
  try {
    cfg::task_config config = cfg::decode_task_config(bytes);
    // Once against a permissive node and once against the defaults.
    cfg::task_config copy = config;
    cfg::driver_config permissive;
    permissive.allowed_apppool_identities = {"ApplicationPoolIdentity", "LocalSystem",
                                             "LocalService", "NetworkService", "SpecificUser"};
    permissive.allowed_apppool_users = {"*"};
    permissive.allowed_target_websites = {"*"};
    try {
      cfg::validate(config, permissive);
      check_invariants(config);
    } catch (const cfg::config_error& e) {
      check_message(e);
    }
    cfg::validate(copy, cfg::driver_config{});
    check_invariants(copy);
  } catch (const cfg::config_error& e) {
    check_message(e);
  }
}

void fuzz_driver(std::string_view bytes) {
  try {
    const cfg::driver_config config = cfg::decode_driver_config(bytes);
    if (config.fingerprint_interval < std::chrono::seconds(10)) __builtin_trap();
    (void)config.effective_data_dir();
  } catch (const cfg::config_error& e) {
    check_message(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fuzz_task(bytes);
  fuzz_driver(bytes);
  (void)cfg::parse_duration(bytes.substr(0, 64));
  return 0;
}
