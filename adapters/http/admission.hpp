#pragma once
// What every Management API request passes before anything is looked up:
// authentication, then the route, then the capability and the allocation
// scope; and the log line it leaves when answered. The request actors and
// the status reads served from published statuses (published_status.hpp)
// share them, so both refuse and log alike.

#include <chrono>
#include <map>
#include <string>

#include <spdlog/logger.h>

#include "adapters/http/auth.hpp"
#include "adapters/http/exchange.hpp"
#include "adapters/http/router.hpp"

namespace nomad_iis::http {

struct admission {
  principal who;
  /// status 200, or 405 (the caller answers it with its Allow header).
  route_match route;
  std::multimap<std::string, std::string> query;
};

/// What `id` needs of the credentials.
capability capability_for(route_id id);

/// Admits `head` or throws the http_error to answer (401, 404, 400 for a
/// malformed query, 403). Refused credentials are logged to `refusals`
/// when it is given.
admission admit(const authenticator& auth, const request_head& head, spdlog::logger* refusals);

/// The request's log line (debug; a warning for 5xx), without the query
/// string, which may hold secrets.
void log_answer(spdlog::logger& log, const request_head& head,
                std::chrono::steady_clock::time_point started, int status,
                const std::string& error);

}  // namespace nomad_iis::http
