#pragma once
// The bytes of save_state(): the site plan and the processes that serve it,
// as JSON, so recover_site() can re-attach after a plugin restart (Nomad
// keeps them as the task handle's driver_state).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "iis/model.hpp"

namespace nomad_iis::iis {

struct saved_app {
  std::size_t app = 0;  ///< index into plan.applications
  std::int32_t port = 0;
  process_ref process;
};

struct saved_pool {
  pool_status status = pool_status::stopped;
  process_ref master;  ///< pool nginx; pid 0 when none
  /// Started without a worker. Informational: a recovery goes by what runs,
  /// since Nomad hands back StartTask's state however old it is.
  bool idle = false;
  std::vector<saved_app> apps;
};

struct saved_site {
  site_plan plan;
  process_ref front;
  std::vector<saved_pool> pools;  ///< parallel to plan.pools
};

/// Secrets are left out: the pfx password (not needed once the PEM files
/// exist) and the pools' environment, which may hold Vault tokens; that
/// lives in the site's data_dir instead (encode_environment).
std::string encode_state(const saved_site& state);

/// Throws std::runtime_error naming what is missing or malformed. The pools'
/// env comes back empty: fill it with decode_environment().
saved_site decode_state(std::string_view bytes);

/// The pools' environment variables as JSON ({"pool": {"NAME": "value"}}).
std::string encode_environment(const site_plan& plan);

/// Puts the variables from encode_environment() bytes back into `plan`.
void decode_environment(std::string_view bytes, site_plan& plan);

}  // namespace nomad_iis::iis
