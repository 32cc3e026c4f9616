#include "adapters/http/admission.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "adapters/http/http_error.hpp"
#include "common/logging.hpp"

namespace nomad_iis::http {

capability capability_for(route_id id) {
  switch (id) {
    case route_id::status:
    case route_id::list_allocs:
    case route_id::metrics:
    case route_id::workers:
    case route_id::requests:
      return capability::status;
    case route_id::start:
    case route_id::stop:
    case route_id::recycle:
      return capability::app_pool_lifecycle;
    case route_id::screenshot:
      return capability::screenshots;
    case route_id::procdump:
      return capability::procdump;
    case route_id::debug:
      return capability::debug;
    default:
      return capability::filesystem_access;
  }
}

namespace {

/// Routes under /allocs/{alloc}/{task}/ name an allocation the credentials
/// must cover before it is looked up.
bool names_an_alloc(route_id id) {
  return id != route_id::list_allocs && id != route_id::debug && id != route_id::metrics &&
         id != route_id::openapi;
}

}  // namespace

admission admit(const authenticator& auth, const request_head& head, spdlog::logger* refusals) {
  auto result = auth.authenticate(head.api_key ? &*head.api_key : nullptr,
                                  head.authorization ? &*head.authorization : nullptr,
                                  std::chrono::system_clock::now());
  if (!result.who) {
    if (refusals)
      logging::log(*refusals, spdlog::level::debug, "request refused", {{"reason", result.why}});
    throw http_error(401, "unauthorized", "missing or invalid credentials");
  }
  admission a;
  a.who = std::move(*result.who);
  const auto& target = head.target;
  const auto query_at = target.find('?');
  a.route = match_route(head.method, std::string_view(target).substr(0, query_at));
  if (a.route.status == 404) throw not_found("no such route");
  if (a.route.status == 405) return a;
  if (query_at != std::string::npos) {
    try {
      for (auto& [k, v] : Poco::URI(target).getQueryParameters()) a.query.emplace(k, v);
    } catch (const Poco::Exception&) {
      throw bad_request("bad_request", "the query string is malformed");
    }
  }
  const auto cap = capability_for(a.route.id);
  if (!a.who.has(cap))
    throw forbidden("the credentials lack the " + std::string(to_string(cap)) + " capability");
  if (names_an_alloc(a.route.id) && !a.who.may_access_alloc(a.route.alloc_id))
    throw forbidden("the credentials do not cover this allocation");
  return a;
}

void log_answer(spdlog::logger& log, const request_head& head,
                std::chrono::steady_clock::time_point started, int status,
                const std::string& error) {
  const auto level = status >= 500 ? spdlog::level::warn : spdlog::level::debug;
  if (!log.should_log(level)) return;
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  logging::fields f{{"method", head.method},
                    {"path", head.target.substr(0, head.target.find('?'))},
                    {"status", std::to_string(status)},
                    {"ms", std::to_string(static_cast<long>(ms))}};
  if (!error.empty()) f.emplace_back("error", error);
  logging::log(log, level, "management api request", f);
}

}  // namespace nomad_iis::http
