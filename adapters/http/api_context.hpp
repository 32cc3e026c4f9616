#pragma once
// What every request actor of the Management API shares: the authenticator,
// the supervisor and the statuses the tasks publish. (Everything a request
// does to a task, the task's actor does, with its own driver config.)

#include <memory>
#include <utility>

#include <spdlog/logger.h>
#include <caf/actor.hpp>

#include "adapters/http/auth.hpp"

namespace caf {
class actor_system;
}

namespace nomad_iis {
class status_board;
}

namespace nomad_iis::http {

struct api_context {
  api_context(authenticator auth, caf::actor_system& sys, caf::actor supervisor,
              std::shared_ptr<const status_board> statuses, std::shared_ptr<spdlog::logger> log)
      : auth(std::move(auth)),
        sys(sys),
        supervisor(std::move(supervisor)),
        statuses(std::move(statuses)),
        log(std::move(log)) {}

  const authenticator auth;
  caf::actor_system& sys;
  const caf::actor supervisor;
  /// Null: every status read asks the task.
  const std::shared_ptr<const status_board> statuses;
  const std::shared_ptr<spdlog::logger> log;
};

}  // namespace nomad_iis::http
