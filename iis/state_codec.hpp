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
  std::vector<saved_app> apps;
};

struct saved_site {
  site_plan plan;
  process_ref front;
  std::vector<saved_pool> pools;  ///< parallel to plan.pools
};

/// Secrets are left out: the pfx password is not needed once the PEM files exist.
std::string encode_state(const saved_site& state);

/// Throws std::runtime_error naming what is missing or malformed.
saved_site decode_state(std::string_view bytes);

}  // namespace nomad_iis::iis
