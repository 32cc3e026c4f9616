#pragma once
// The Management API as the plugin process sees it: created once in the
// long-lived instance, it binds in the background (retrying with backoff, a
// failure never kills the plugin), reports its port to the fingerprint, and
// follows driver config changes.

#include <memory>

#include <caf/actor.hpp>

#include "adapters/http/auth.hpp"
#include "adapters/http/exchange.hpp"
#include "adapters/plugin_options.hpp"
#include "config/driver_config.hpp"

namespace caf {
class actor_system;
}

namespace nomad_iis {
class status_board;
}

namespace nomad_iis::http {

struct api_context;

/// What the request actors share; `statuses` may be null (status reads ask the task).
std::shared_ptr<api_context> make_api_context(caf::actor_system& sys, caf::actor supervisor,
                                              std::shared_ptr<const status_board> statuses,
                                              authenticator auth);

/// A status read the task published is answered at once
/// (published_status.hpp); every other request becomes an adapter actor of
/// its own (request_actor.hpp).
request_sink make_request_sink(std::shared_ptr<api_context> ctx);

class management_api {
 public:
  management_api(caf::actor_system& sys, caf::actor supervisor, caf::actor fingerprinter,
                 std::shared_ptr<const status_board> statuses, const plugin_options& options);
  ~management_api();

  /// Applies a driver config; the first call starts the server.
  void configure(const config::driver_config& driver);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace nomad_iis::http
