#pragma once
// What every request actor of the Management API shares: the authenticator,
// the supervisor, the tool workers (browsers and dumps behind the gates of
// that pool) and the current driver config. (File work is the task actors'.)

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <spdlog/logger.h>
#include <caf/actor.hpp>

#include "adapters/http/auth.hpp"
#include "config/driver_config.hpp"
#include "iis/inspect/screenshot.hpp"

namespace caf {
class actor_system;
}

namespace nomad_iis::http {

class api_context {
 public:
  api_context(authenticator auth, caf::actor_system& sys, caf::actor supervisor, caf::actor tools,
              std::shared_ptr<spdlog::logger> log)
      : auth(std::move(auth)),
        sys(sys),
        supervisor(std::move(supervisor)),
        tools(std::move(tools)),
        log(std::move(log)),
        driver_(std::make_shared<config::driver_config>()) {}

  /// The driver config in effect (SetConfig may replace it at any time).
  std::shared_ptr<const config::driver_config> driver() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return driver_;
  }
  void set_driver(config::driver_config cfg) {
    auto p = std::make_shared<const config::driver_config>(std::move(cfg));
    std::lock_guard<std::mutex> lock(mutex_);
    driver_ = std::move(p);
  }

  const authenticator auth;
  caf::actor_system& sys;
  caf::actor supervisor;
  /// Blocking workers for browsers and dumps (long runs, each kind behind a
  /// gate of its own: off_thread_gated).
  caf::actor tools;
  std::shared_ptr<spdlog::logger> log;
  /// Who browsers run as (empty: the plugin's own user).
  inspect::browser_account_source browser_account;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const config::driver_config> driver_;
};

}  // namespace nomad_iis::http
