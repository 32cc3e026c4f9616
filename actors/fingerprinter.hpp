#pragma once
// Periodically probes the web server and sends a fingerprint to every
// subscriber (one per Fingerprint stream): at once on subscribe, then every
// fingerprint_interval, and whenever the driver config or API state changes.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "config/driver_config.hpp"
#include "iis/backend.hpp"
#include "messages/messages.hpp"

namespace nomad_iis {

struct fingerprinter_state {
  std::shared_ptr<iis::backend> backend;
  caf::actor workers;
  config::driver_config driver;
  msg::api_status api;
  std::optional<msg::probe_result> last_probe;
  std::vector<caf::actor> subscribers;
  bool probing = false;
  std::uint64_t tick_generation = 0;  ///< ticks of an older interval are ignored
  static inline const char* name = "fingerprinter";
};

/// Builds the fingerprint Nomad sees from the probe and the settings.
msg::fingerprint make_fingerprint(const config::driver_config& driver, const msg::api_status& api,
                                  const msg::probe_result& probe);

caf::behavior fingerprinter(caf::stateful_actor<fingerprinter_state>* self,
                            std::shared_ptr<iis::backend> backend, caf::actor workers);

}  // namespace nomad_iis
