#pragma once
// What every request actor of the Management API shares: the authenticator
// and the supervisor. (Everything a request does to a task, the task's actor
// does, with its own driver config.)

#include <memory>
#include <utility>

#include <spdlog/logger.h>
#include <caf/actor.hpp>

#include "adapters/http/auth.hpp"

namespace caf {
class actor_system;
}

namespace nomad_iis::http {

struct api_context {
  api_context(authenticator auth, caf::actor_system& sys, caf::actor supervisor,
              std::shared_ptr<spdlog::logger> log)
      : auth(std::move(auth)), sys(sys), supervisor(std::move(supervisor)), log(std::move(log)) {}

  const authenticator auth;
  caf::actor_system& sys;
  const caf::actor supervisor;
  const std::shared_ptr<spdlog::logger> log;
};

}  // namespace nomad_iis::http
