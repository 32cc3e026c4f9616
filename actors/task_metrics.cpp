#include "actors/task_metrics.hpp"

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/task_site.hpp"
#include "common/logging.hpp"
#include "iis/site_layout.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::task_metrics {
namespace {

/// What the blocking worker reads: the request log and the processes' /proc.
struct reading {
  iis::request_totals requests;
  iis::usage_sample usage;
  std::map<std::size_t, std::uint64_t> active;  ///< requests in progress by pool index
};

/// Where a pool's requests are in progress: connections the front holds
/// open to its nginx workers (their socket) or its applications' ports.
struct pool_endpoints {
  std::size_t pool = 0;
  std::vector<iis::process_ref> workers;
  std::vector<std::int32_t> ports;
};

std::vector<pool_endpoints> endpoints_of(task_actor_ptr self) {
  std::vector<pool_endpoints> out;
  for (const auto& view : self->state.pool_views) {
    pool_endpoints e{view.pool, view.workers, {}};
    for (const auto& app : view.apps)
      if (app.process.pid && app.port) e.ports.push_back(app.port);
    out.push_back(std::move(e));
  }
  return out;
}

/// Requests in progress at one pool (/proc: a walk of its workers' fds).
std::uint64_t active_requests(iis::site_host& host, const pool_endpoints& e) {
  std::uint64_t n = 0;
  if (!e.workers.empty())
    n += host.open_unix_connections(e.workers, iis::layout::pool_bind_name(e.pool));
  for (auto port : e.ports) n += host.open_tcp_connections(port);
  return n;
}

using process_list = std::vector<std::pair<std::string, iis::process_ref>>;

/// Every process of the site by pool name ("" = the front), as the views say.
process_list site_processes(task_actor_ptr self) {
  const auto& st = self->state;
  process_list out;
  if (st.front_view.master.pid) out.emplace_back("", st.front_view.master);
  for (const auto& worker : st.front_view.workers) out.emplace_back("", worker);
  for (const auto& view : st.pool_views)
    for (const auto& process : view.all) out.emplace_back(st.plan->pools[view.pool].name, process);
  return out;
}

msg::task_metrics compose(task_actor_ptr self) {
  auto& st = self->state;
  const auto& seconds = st.cpu_seconds.seconds();
  msg::task_metrics out;
  auto add = [&](std::string name, std::int64_t index) -> msg::pool_metrics& {
    msg::pool_metrics pool;
    if (auto it = st.rss_bytes.find(name); it != st.rss_bytes.end()) pool.rss_bytes = it->second;
    if (auto it = seconds.find(name); it != seconds.end()) pool.cpu_seconds = it->second;
    if (auto it = st.requests.pools.find(index); it != st.requests.pools.end())
      pool.requests = it->second;
    pool.name = std::move(name);
    out.pools.push_back(std::move(pool));
    return out.pools.back();
  };
  add("", iis::front_requests).workers = st.front_view.workers.size();
  for (const auto& view : st.pool_views) {
    auto& pool = add(st.plan->pools[view.pool].name, static_cast<std::int64_t>(view.pool));
    pool.status = iis::to_string(view.status);
    pool.workers = view.workers.size();
    pool.counts = view.counts;
    if (auto it = st.active_requests.find(view.pool); it != st.active_requests.end())
      pool.active_requests = it->second;
  }
  return out;
}

/// Takes in what a count read (nothing of it when it failed: the last
/// numbers stay).
void apply(task_actor_ptr self, reading r) {
  auto& st = self->state;
  st.requests = std::move(r.requests);
  st.cpu_seconds.update(r.usage);
  st.active_requests = std::move(r.active);
  st.rss_bytes.clear();
  for (const auto& [pool, processes] : r.usage.by_pool)
    for (const auto& p : processes) st.rss_bytes[pool] += p.rss_bytes;
}

/// Counts and samples on a worker; then answers everyone waiting.
void start_count(task_actor_ptr self) {
  auto& st = self->state;
  st.counting = true;
  off_thread<reading>(
      self, st.services.workers,
      [host = st.services.host, launcher = st.services.launcher, plan = st.plan,
       processes = site_processes(self), endpoints = endpoints_of(self)] {
        reading r;
        r.requests = host->count_requests(*plan);
        for (const auto& e : endpoints) r.active[e.pool] = active_requests(*host, e);
        for (const auto& [pool, ref] : processes)
          if (auto usage = launcher->usage(ref)) r.usage.by_pool[pool].push_back(*usage);
        return r;
      },
      [self](job_result<reading> result) {
        auto& st = self->state;
        st.counting = false;
        if (result.ok()) {
          apply(self, std::move(*result.value));
        } else {
          logging::log(*logging::get("task"), spdlog::level::warn,
                       "counting the site's requests failed",
                       {{"task_id", st.task.task_id}, {"error", result.error.message}});
        }
        auto waiters = std::move(st.metrics_waiters);
        st.metrics_waiters.clear();
        if (waiters.empty()) return;
        auto metrics = compose(self);
        for (auto& [rp, summary] : waiters) {
          metrics.task = summary;
          rp.deliver(metrics);
        }
      });
}

}  // namespace

caf::result<msg::task_metrics> collect(task_actor_ptr self, msg::task_summary summary) {
  auto& st = self->state;
  if (!st.plan) return no_site_error();
  auto rp = self->make_response_promise<msg::task_metrics>();
  st.metrics_waiters.emplace_back(rp, std::move(summary));
  if (!st.counting) start_count(self);
  return rp;
}

void on_count_timer(task_actor_ptr self) {
  auto& st = self->state;
  if (st.plan && !st.counting) start_count(self);
  self->delayed_send(self, count_interval, atom::count_requests_v);
}

}  // namespace nomad_iis::task_metrics
