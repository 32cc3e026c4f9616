#pragma once
// What every request handler of the Management API shares: the
// authenticator, the actor client, the current driver config and the gates
// for browsers and dumps.

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <spdlog/logger.h>

#include "adapters/http/auth.hpp"
#include "adapters/http/coalesced_reads.hpp"
#include "adapters/http/limiter.hpp"
#include "adapters/http/task_client.hpp"
#include "adapters/http/views.hpp"
#include "config/driver_config.hpp"
#include "iis/inspect/screenshot.hpp"

namespace nomad_iis::http {

/// A task's status document, built once per coalesced read and sent to
/// every caller of that read whose credentials cover the task.
struct status_answer {
  msg::task_summary task;
  std::string body;
};

/// The answer to a status read, the same on threads and in the reactor.
inline status_answer make_status_answer(msg::site_status site) {
  auto body = status_json(site);
  return status_answer{std::move(site.task), std::move(body)};
}

class api_context {
 public:
  api_context(authenticator auth, caf::actor_system& sys, caf::actor supervisor,
              std::shared_ptr<spdlog::logger> log)
      : auth(std::move(auth)),
        tasks(sys, std::move(supervisor)),
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
  task_client tasks;
  std::shared_ptr<spdlog::logger> log;
  /// Status reads by (alloc id, task name).
  coalesced_reads<std::pair<std::string, std::string>, status_answer> status_reads;
  limiter screenshots;
  limiter dumps;
  /// Who browsers run as (empty: the plugin's own user).
  inspect::browser_account_source browser_account;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const config::driver_config> driver_;
};

}  // namespace nomad_iis::http
