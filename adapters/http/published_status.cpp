#include "adapters/http/published_status.hpp"

#include "actors/status_board.hpp"
#include "actors/timeouts.hpp"
#include "adapters/http/admission.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/views.hpp"
#include "adapters/metrics/metrics.hpp"

namespace nomad_iis::http {
namespace {

bool looks_like_status(const request_head& head) {
  constexpr std::string_view suffix = "/status";
  const std::string_view path = std::string_view(head.target).substr(0, head.target.find('?'));
  return head.method == "GET" && path.size() > suffix.size() &&
         path.substr(path.size() - suffix.size()) == suffix;
}

}  // namespace

bool serve_published_status(const api_context& ctx, exchange& ex, const request_head& head) {
  if (!ctx.statuses || !looks_like_status(head)) return false;
  const auto started = std::chrono::steady_clock::now();
  status_ptr published;
  try {
    const auto admitted = admit(ctx.auth, head, nullptr);
    if (admitted.route.status != 200 || admitted.route.id != route_id::status) return false;
    published = ctx.statuses->find(admitted.route.alloc_id, admitted.route.task_name);
    if (!published || started - published->sampled_at() >= timeouts::status_usage_window)
      return false;
    const auto& task = published->status().task;
    if (!admitted.who.may_access(task.alloc_id, task.namespace_name, task.job_name)) return false;
  } catch (const http_error&) {
    return false;  // the request actor answers it, and logs it
  }
  response r;
  r.body = published->rendered(status_json);
  metrics::count_api_request(
      route_name(route_id::status), r.status,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  log_answer(*ctx.log, head, started, r.status, {});
  ex.respond(std::move(r));
  return true;
}

}  // namespace nomad_iis::http
