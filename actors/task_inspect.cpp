#include "actors/task_inspect.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/task_actor.hpp"
#include "actors/task_files.hpp"
#include "actors/task_site.hpp"
#include "actors/timeouts.hpp"
#include "iis/files/transfer.hpp"
#include "iis/inspect/inspect_error.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::task_inspect {
namespace {

using inspect::inspect_errc;
using inspect::inspect_error;

caf::error refusal(inspect_errc kind, std::string code, std::string message) {
  return to_error(inspect::inspect_failure{kind, std::move(code), std::move(message)});
}

/// What a failed job threw, as the error its requester gets.
template <class T>
caf::error error_of(const job_result<T>& r, const char* busy_text) {
  if (r.refused) return caf::make_error(ec::busy, std::string(busy_text));
  try {
    if (r.thrown) std::rethrow_exception(r.thrown);
  } catch (const inspect_error& e) {
    return to_error(e.failure());
  } catch (...) {
  }
  return refusal(inspect_errc::internal, "internal", r.error.message);
}

/// The account browsers run as, made on first use (useradd: a worker's job).
std::optional<inspect::run_as> browser_user(const inspect::browser_account_source& account) {
  if (!account) return std::nullopt;
  try {
    return account();
  } catch (const std::exception& e) {
    throw inspect_error(inspect_errc::unavailable, "screenshots_unavailable",
                        std::string("no user to run the browser as: ") + e.what());
  }
}

}  // namespace

site_address address_of(const iis::site_plan& plan) {
  auto first = std::find_if(plan.bindings.begin(), plan.bindings.end(),
                            [](const auto& b) { return b.type == config::binding_type::http; });
  if (first == plan.bindings.end()) first = plan.bindings.begin();
  if (first == plan.bindings.end()) return {};
  const auto& b = *first;
  auto ip = b.ip.empty() || b.ip == "*" || b.ip == "0.0.0.0" ? std::string("127.0.0.1") : b.ip;
  return {std::string(b.type == config::binding_type::http ? "http" : "https") + "://" +
              (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" +
              std::to_string(b.port),
          b.hostname};
}

caf::result<msg::screenshot_taken> screenshot(self_ptr self, msg::take_screenshot& m) {
  auto& st = self->state;
  if (!st.plan) return no_site_error();
  const auto address = address_of(*st.plan);
  if (address.url.empty())
    return refusal(inspect_errc::not_found, "not_found", "the task has no http or https binding");
  const auto& tools = st.services.inspector;
  if (!tools.screenshot)
    return refusal(inspect_errc::unavailable, "screenshots_unavailable",
                   "this driver takes no screenshots");
  inspect::screenshot_request shot;
  shot.chromium_path = st.driver.chromium_path;
  shot.base_url = address.url;
  shot.hostname = address.hostname;
  shot.path = std::move(m.path);
  shot.width = m.width;
  shot.height = m.height;
  shot.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(st.driver.screenshot_timeout);
  auto rp = self->make_response_promise();
  off_thread_gated<std::string>(
      self, st.services.tool_workers, "screenshot", st.driver.screenshot_concurrency, shot.timeout,
      [shot, take = tools.screenshot, account = tools.browser_account]() mutable {
        shot.user = browser_user(account);
        return take(shot);
      },
      [rp](job_result<std::string> png) mutable {
        if (!png.ok())
          return rp.deliver(error_of(png, "too many screenshots are being taken; try again later"));
        rp.deliver(msg::screenshot_taken{std::move(*png.value)});
      });
  return rp;
}

caf::result<msg::download_started> dump(self_ptr self, msg::take_dump& m) {
  auto& st = self->state;
  if (!st.plan) return no_site_error();
  auto view = std::find_if(st.pool_views.begin(), st.pool_views.end(), [&](const auto& v) {
    return v.pool < st.plan->pools.size() && st.plan->pools[v.pool].name == m.pool;
  });
  if (view == st.pool_views.end())
    return refusal(inspect_errc::bad_request, "unknown_pool",
                   "the task has no application pool \"" + m.pool + "\"");
  // The front's workers when it serves the pool's files.
  const auto& workers = site::pool_workers(self, *view);
  if (workers.empty())
    return refusal(inspect_errc::conflict, "no_worker",
                   "the pool \"" + m.pool + "\" has no running worker process");
  const auto& tools = st.services.inspector;
  if (!tools.dump)
    return refusal(inspect_errc::unavailable, "procdump_unavailable", "this driver takes no dumps");
  using dump_ptr = std::shared_ptr<inspect::core_dump>;
  auto owner = caf::actor_cast<caf::actor_addr>(self->current_sender());
  auto rp = self->make_response_promise();
  off_thread_gated<dump_ptr>(
      self, st.services.tool_workers, "procdump", st.driver.procdump_concurrency,
      timeouts::dump_queue_wait,
      [take = tools.dump, tool = st.driver.dump_tool_path(), pid = workers.front().pid] {
        return take(tool, pid, timeouts::dump_run);
      },
      [self, rp, owner](job_result<dump_ptr> made) mutable {
        if (!made.ok())
          return rp.deliver(error_of(made, "too many dumps are being taken; try again later"));
        auto dump = std::move(*made.value);
        auto path = dump->path;
        task_files::open_download(
            self, owner, files::download_job::of_own_file(std::move(path), "core", std::move(dump)),
            rp);
      });
  return rp;
}

}  // namespace nomad_iis::task_inspect
