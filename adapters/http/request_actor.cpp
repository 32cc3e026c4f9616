#include "adapters/http/request_actor.hpp"

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/timeouts.hpp"
#include "adapters/http/admission.hpp"
#include "adapters/http/error_status.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/json_errors.hpp"
#include "adapters/http/openapi_document.hpp"
#include "adapters/http/ui.hpp"
#include "adapters/http/views.hpp"
#include "adapters/metrics/metrics.hpp"
#include "common/logging.hpp"
#include "iis/files/file_error.hpp"
#include "iis/inspect/inspect_error.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::http {
namespace {

void log_request(request_actor* self, int status, const std::string& error) {
  const auto& st = self->state;
  log_answer(*st.ctx->log, st.head, st.started, status, error);
}

void check_task_access(const request_state& st, const msg::task_summary& s) {
  if (!st.who.may_access(s.alloc_id, s.namespace_name, s.job_name))
    throw forbidden("the credentials do not cover this task's namespace or job");
}

void list_allocs(request_actor* self) {
  auto& st = self->state;
  self->request(st.ctx->supervisor, timeouts::query, msg::list_tasks{})
      .then(
          [self](msg::task_list& all) {
            auto& st = self->state;
            auto job = query_value(st, "job"), ns = query_value(st, "namespace"),
                 task = query_value(st, "task");
            std::vector<msg::task_summary> visible;
            for (auto& t : all.tasks) {
              if (!st.who.may_access(t.alloc_id, t.namespace_name, t.job_name)) continue;
              if ((!job.empty() && t.job_name != job) || (!ns.empty() && t.namespace_name != ns) ||
                  (!task.empty() && t.task_name != task))
                continue;
              visible.push_back(std::move(t));
            }
            answer_json(self, alloc_list_json(visible));
          },
          [self](caf::error& err) { answer_error(self, err); });
}

/// Only what the credentials cover, exactly as list_allocs; sites that no
/// task owns belong to no allocation a scoped token could name.
void debug(request_actor* self) {
  auto& st = self->state;
  self->request(st.ctx->supervisor, timeouts::query, msg::get_debug_info{})
      .then(
          [self](msg::debug_info& info) {
            auto& st = self->state;
            auto hidden = [&](const msg::task_summary& t) {
              return !st.who.may_access(t.alloc_id, t.namespace_name, t.job_name);
            };
            info.tasks.erase(std::remove_if(info.tasks.begin(), info.tasks.end(), hidden),
                             info.tasks.end());
            if (!st.who.may_access_any_alloc()) info.dangling.clear();
            answer_json(self, debug_json(info));
          },
          [self](caf::error& err) { answer_error(self, err); });
}

/// Every task's series the credentials cover; the node's only for the API
/// key (they sum over every task). The supervisor asks each task actor,
/// which counts its request log on a worker: no thread waits.
void serve_metrics(request_actor* self) {
  auto& st = self->state;
  self->request(st.ctx->supervisor, timeouts::query, msg::collect_metrics{})
      .then(
          [self](msg::metrics_snapshot& all) {
            auto& st = self->state;
            const bool node = st.who.unrestricted;
            if (!node) {
              auto hidden = [&](const msg::task_metrics& t) {
                return !st.who.may_access(t.task.alloc_id, t.task.namespace_name, t.task.job_name);
              };
              all.tasks.erase(std::remove_if(all.tasks.begin(), all.tasks.end(), hidden),
                              all.tasks.end());
            }
            response r;
            r.content_type = std::string(metrics::content_type);
            r.body = metrics::render(all.tasks, node);
            answer(self, std::move(r));
          },
          [self](caf::error& err) { answer_error(self, err); });
}

/// Lookup and status in one request; the task actor answers from its view.
/// No timeout: both actors answer at once from their state (a task that is
/// gone answers with an error), and a timeout costs every poll a trip
/// through CAF's clock thread.
void status(request_actor* self) {
  auto& st = self->state;
  self->request(st.ctx->supervisor, caf::infinite,
                msg::find_site_status{st.route.alloc_id, st.route.task_name})
      .then(
          [self](msg::site_status& site) {
            guarded(self, [&] {
              check_task_access(self->state, site.task);
              answer_json(self, status_json(site));
            });
          },
          [self](caf::error& err) { answer_error(self, err); });
}

void pools(request_actor* self, msg::pool_op op) {
  auto& st = self->state;
  std::vector<std::string> names;
  if (auto name = query_value(st, "appPoolName"); !name.empty()) names.push_back(name);
  self->request(st.task.task, timeouts::lifecycle, msg::pool_command{op, std::move(names)})
      .then(
          [self]() {
            self->request(self->state.task.task, timeouts::query, msg::get_site_status{})
                .then([self](msg::site_status& site) { answer_json(self, status_json(site)); },
                      [self](caf::error& err) { answer_error(self, err); });
          },
          [self](caf::error& err) { answer_error(self, err); });
}

/// A pool's workers, sampled by the task actor's next count.
void pool_workers(request_actor* self) {
  auto& st = self->state;
  self->request(st.task.task, timeouts::query, msg::get_pool_workers{st.route.pool_name})
      .then([self](msg::pool_workers& pool) { answer_json(self, pool_workers_json(pool)); },
            [self](caf::error& err) { answer_error(self, err); });
}

/// The requests the task's front has open, as its log says after a read.
void open_requests(request_actor* self) {
  auto& st = self->state;
  self->request(st.task.task, timeouts::query, msg::get_open_requests{})
      .then([self](msg::open_request_list& list) { answer_json(self, open_requests_json(list)); },
            [self](caf::error& err) { answer_error(self, err); });
}

void with_task(request_actor* self) {
  auto& st = self->state;
  self->request(st.ctx->supervisor, timeouts::query,
                msg::find_task{st.route.alloc_id, st.route.task_name})
      .then(
          [self](msg::found_task& found) {
            guarded(self, [&] {
              auto& st = self->state;
              check_task_access(st, found.summary);
              st.task = std::move(found);
              switch (st.route.id) {
                case route_id::start:
                  return pools(self, msg::pool_op::start);
                case route_id::stop:
                  return pools(self, msg::pool_op::stop);
                case route_id::recycle:
                  return pools(self, msg::pool_op::recycle);
                case route_id::screenshot:
                  return serve_screenshot(self);
                case route_id::procdump:
                  return serve_procdump(self);
                case route_id::workers:
                  return pool_workers(self);
                case route_id::requests:
                  return open_requests(self);
                default:
                  return serve_files(self);
              }
            });
          },
          [self](caf::error& err) { answer_error(self, err); });
}

/// The OpenAPI document and the dashboard's files before anything (both
/// public); then admission, and the route.
void route(request_actor* self) {
  auto& st = self->state;
  const auto& target = st.head.target;
  const std::string raw_path = target.substr(0, target.find('?'));
  if (st.head.method == "GET" && raw_path == openapi_path) {
    st.route.id = route_id::openapi;
    st.routed = true;
    return answer_json(self, std::string(openapi_document()));
  }
  if (st.head.method == "GET" && is_ui_path(raw_path)) {
    st.counted = true;  // the dashboard's files are not API requests
    return answer(self, ui_response(raw_path, st.head.if_none_match));
  }
  auto admitted = admit(st.ctx->auth, st.head, st.ctx->log.get());
  st.who = std::move(admitted.who);
  st.route = std::move(admitted.route);
  st.query = std::move(admitted.query);
  st.routed = st.route.status == 200;
  if (st.route.status == 405) {
    response r;
    r.status = 405;
    r.headers.emplace_back("Allow", st.route.allow);
    r.body = error_json("method_not_allowed", st.head.method + " is not allowed here");
    return answer(self, std::move(r));
  }
  switch (st.route.id) {
    case route_id::list_allocs:
      return list_allocs(self);
    case route_id::debug:
      return debug(self);
    case route_id::metrics:
      return serve_metrics(self);
    case route_id::status:
      return status(self);
    default:
      return with_task(self);
  }
}

}  // namespace

std::string query_value(const request_state& st, const std::string& name,
                        const std::string& fallback) {
  const auto declared = query_parameters(st.route.id);
  if (std::find(declared.begin(), declared.end(), name) == declared.end())
    throw std::logic_error("the route reads the undeclared query parameter " + name);
  auto it = st.query.find(name);
  return it == st.query.end() ? fallback : it->second;
}

bool query_flag(const request_state& st, const std::string& name) {
  auto v = query_value(st, name);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v.empty() || v == "false" || v == "0" || v == "no") return false;
  if (v == "true" || v == "1" || v == "yes") return true;
  throw bad_request("bad_request", "?" + name + " must be true or false");
}

int query_int(const request_state& st, const std::string& name, int fallback, int lo, int hi) {
  auto v = query_value(st, name);
  if (v.empty()) return fallback;
  try {
    std::size_t used = 0;
    int n = std::stoi(v, &used);
    if (used == v.size() && n >= lo && n <= hi) return n;
  } catch (const std::exception&) {
  }
  throw bad_request("bad_request", "?" + name + " must be a number from " + std::to_string(lo) +
                                       " to " + std::to_string(hi));
}

std::string timestamp_now() {
  char buf[32];
  auto t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d-%H-%M-%S", &tm);
  return buf;
}

void count_request(request_actor* self, int status) {
  auto& st = self->state;
  if (std::exchange(st.counted, true)) return;
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
  metrics::count_api_request(st.routed ? route_name(st.route.id) : "unmatched", status, seconds);
}

void answer(request_actor* self, response r) {
  auto& st = self->state;
  if (st.answered) return;
  st.answered = true;
  count_request(self, r.status);
  if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  log_request(self, r.status, r.status >= 400 ? r.body : std::string());
  st.ex->respond(std::move(r));
  self->quit();
}

void answer_json(request_actor* self, std::string body, int status) {
  response r;
  r.status = status;
  r.body = std::move(body);
  answer(self, std::move(r));
}

void answer_failure(request_actor* self, std::exception_ptr e) {
  auto& st = self->state;
  http_error failure(500, "internal", "internal error");
  try {
    std::rethrow_exception(std::move(e));
  } catch (const http_error& err) {
    failure = err;
  } catch (const files::file_error& err) {
    failure = to_http_error(err);
  } catch (const inspect::inspect_error& err) {
    failure = to_http_error(err);
  } catch (const std::exception& err) {
    log_request(self, 500, err.what());
  } catch (...) {
  }
  const std::string message = failure.what();
  if (st.answered) {  // mid-stream: only a cut connection tells the client
    log_request(self, 599, message);
    st.ex->abort();
    self->quit();
    return;
  }
  answer_json(self, error_json(failure.code(), message), failure.status());
}

void answer_error(request_actor* self, const caf::error& err) {
  if (auto refused = file_failure_of(err))
    return answer_failure(self, std::make_exception_ptr(files::file_error(
                                    refused->kind, refused->code, refused->message)));
  if (auto failed = inspect_failure_of(err))
    return answer_failure(self, std::make_exception_ptr(inspect::inspect_error(
                                    failed->kind, failed->code, failed->message)));
  const auto& r = route_of(err);
  answer_failure(self, std::make_exception_ptr(
                           http_error(r.http_status, std::string(r.http_error), http_text(err))));
}

void with_status(request_actor* self, std::function<void(msg::site_status)> next) {
  self->request(self->state.task.task, timeouts::query, msg::get_site_status{})
      .then([self, next](msg::site_status& site) { guarded(self, [&] { next(std::move(site)); }); },
            [self](caf::error& err) { answer_error(self, err); });
}

caf::behavior request_behavior(request_actor* self, std::shared_ptr<api_context> ctx,
                               std::shared_ptr<exchange> ex, request_head head) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.ex = std::move(ex);
  st.head = std::move(head);
  st.started = std::chrono::steady_clock::now();
  guarded(self, [self] { route(self); });
  return {
      [self](body_arrived& m) {
        if (auto next = std::exchange(self->state.on_body, nullptr))
          guarded(self, [&] { next(std::move(m.piece)); });
      },
      [self](chunk_written& m) {
        if (auto next = std::exchange(self->state.on_written, nullptr))
          guarded(self, [&] { next(m.ok); });
      },
  };
}

}  // namespace nomad_iis::http
