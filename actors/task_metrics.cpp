#include "actors/task_metrics.hpp"

#include <algorithm>
#include <chrono>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/task_site.hpp"
#include "common/logging.hpp"
#include "common/system_info.hpp"
#include "iis/site_layout.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::task_metrics {
namespace {

/// What the blocking worker reads: the request logs, the front's status,
/// the pools' sockets and the processes' /proc.
struct reading {
  iis::request_totals requests;
  iis::usage_sample usage;
  std::map<std::size_t, std::uint64_t> active;  ///< requests in progress by pool index
  std::map<std::size_t, std::uint64_t> queued;  ///< requests held for a pool, by index
  std::optional<iis::connection_counts> connections;
  iis::open_requests open;
};

/// Where a pool's requests are in progress: connections the front holds
/// open to its nginx workers (their socket) or its applications' ports; and
/// where they wait: its socket's backlog, its apps' wait sockets'.
struct pool_endpoints {
  std::size_t pool = 0;
  std::vector<iis::process_ref> workers;
  std::vector<std::int32_t> ports;
  std::vector<std::string> queues;          ///< listening sockets, relative to the data dir
  std::vector<std::int32_t> binding_ports;  ///< the front serves its files: its accept queues
};

std::vector<pool_endpoints> endpoints_of(task_actor_ptr self) {
  const auto& plan = *self->state.plan;
  std::vector<pool_endpoints> out;
  for (const auto& view : self->state.pool_views) {
    pool_endpoints e{view.pool, view.workers, {}, {iis::layout::socket_name(view.pool)}, {}};
    for (const auto& app : view.apps)
      if (app.process.pid && app.port) e.ports.push_back(app.port);
    for (std::size_t a = 0; a < plan.applications.size(); ++a)
      if (plan.applications[a].pool == plan.pools[view.pool].name)
        e.queues.push_back(iis::layout::app_wait_socket(a));
    if (view.front_serves) {
      for (const auto& binding : plan.bindings)
        if (std::find(e.binding_ports.begin(), e.binding_ports.end(), binding.port) ==
            e.binding_ports.end())
          e.binding_ports.push_back(binding.port);
    }
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

/// Every process of the site by pool name ("" = the front, unless it serves a
/// pool's files), as the views say.
process_list site_processes(task_actor_ptr self) {
  const auto& st = self->state;
  process_list out;
  const auto front_name = site::front_served_pool(self);
  if (st.front_view.master.pid) out.emplace_back(front_name, st.front_view.master);
  for (const auto& worker : st.front_view.workers) out.emplace_back(front_name, worker);
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
    pool.workers = site::pool_workers(self, view).size();
    pool.counts = view.counts;
    if (auto it = st.active_requests.find(view.pool); it != st.active_requests.end())
      pool.active_requests = it->second;
    if (auto it = st.queued_requests.find(view.pool); it != st.queued_requests.end())
      pool.queued_requests = it->second;
  }
  out.connections_known = st.connections.has_value();
  out.connections = st.connections.value_or(iis::connection_counts{});
  return out;
}

/// Takes in what a count read (nothing of it when it failed: the last
/// numbers stay).
void apply(task_actor_ptr self, reading r) {
  auto& st = self->state;
  st.requests = std::move(r.requests);
  st.cpu_seconds.update(r.usage);
  st.active_requests = std::move(r.active);
  st.queued_requests = std::move(r.queued);
  st.connections = r.connections;
  st.open_requests = std::move(r.open);
  st.usage = r.usage;
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
       processes = site_processes(self), endpoints = endpoints_of(self), front = st.front_view,
       open = st.open_requests]() mutable {
        reading r;
        r.requests = host->count_requests(*plan);
        r.connections = host->front_connections(*plan, front.generation);
        std::vector<iis::process_ref> masters{front.master};
        for (const auto& old : front.draining) {
          masters.push_back(old.master);
          // Older generations' clients are the site's too until they leave.
          const auto counts =
              r.connections ? host->front_connections(*plan, old.number) : std::nullopt;
          if (!counts) continue;
          r.connections->reading += counts->reading;
          r.connections->writing += counts->writing;
          r.connections->waiting += counts->waiting;
        }
        host->read_open_requests(*plan, masters, open);
        r.open = std::move(open);
        for (const auto& e : endpoints) {
          r.active[e.pool] = active_requests(*host, e);
          for (const auto& queue : e.queues)
            r.queued[e.pool] += host->queued_connections(*plan, queue);
          for (auto port : e.binding_ports) r.queued[e.pool] += host->queued_tcp_connections(port);
        }
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
        auto waiters = std::move(st.count_waiters);
        st.count_waiters.clear();
        for (auto& waiter : waiters) waiter();
      });
}

/// Runs `then` once a count (started now unless one runs) is done.
void after_count(task_actor_ptr self, std::function<void()> then) {
  auto& st = self->state;
  st.count_waiters.push_back(std::move(then));
  if (!st.counting) start_count(self);
}

std::optional<std::size_t> pool_index(task_actor_ptr self, const std::string& name) {
  const auto& pools = self->state.plan->pools;
  for (std::size_t p = 0; p < pools.size(); ++p)
    if (pools[p].name == name) return p;
  return std::nullopt;
}

/// The pool's live workers with what the last count sampled of them.
msg::pool_workers workers_of(task_actor_ptr self, std::size_t pool) {
  const auto& st = self->state;
  msg::pool_workers out;
  out.pool = st.plan->pools[pool].name;
  const auto ticks = system_info::clock_ticks_per_second();
  std::map<std::int32_t, iis::process_usage> sampled;
  if (auto it = st.usage.by_pool.find(out.pool); it != st.usage.by_pool.end())
    for (const auto& usage : it->second) sampled[usage.pid] = usage;
  for (const auto& view : st.pool_views) {
    if (view.pool != pool) continue;
    out.status = iis::to_string(view.status);
    for (const auto& worker : site::pool_workers(self, view)) {
      msg::worker_info info;
      info.pid = worker.pid;
      info.started_ms = system_info::boot_time() * 1000 +
                        static_cast<std::int64_t>(worker.start_ticks) * 1000 / ticks;
      if (auto it = sampled.find(worker.pid); it != sampled.end()) {
        info.rss_bytes = it->second.rss_bytes;
        info.cpu_seconds =
            static_cast<double>(it->second.user_ticks + it->second.system_ticks) / ticks;
      }
      out.workers.push_back(info);
    }
  }
  if (auto it = st.requests.pools.find(static_cast<std::int64_t>(pool));
      it != st.requests.pools.end())
    for (auto n : it->second.by_class) out.requests_served += n;
  return out;
}

msg::open_request_list open_requests_of(task_actor_ptr self) {
  const auto& st = self->state;
  const auto now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  msg::open_request_list out;
  for (const auto& [key, open] : st.open_requests.open) {
    msg::request_info info;
    info.method = open.method;
    info.path = open.path;
    info.client = open.client;
    if (open.pool < st.plan->pools.size()) info.pool = st.plan->pools[open.pool].name;
    info.elapsed_seconds = std::max(0.0, now - open.started);
    out.requests.push_back(std::move(info));
  }
  std::sort(out.requests.begin(), out.requests.end(),
            [](const auto& a, const auto& b) { return a.elapsed_seconds > b.elapsed_seconds; });
  return out;
}

}  // namespace

caf::result<msg::task_metrics> collect(task_actor_ptr self, msg::task_summary summary) {
  if (!self->state.plan) return no_site_error();
  auto rp = self->make_response_promise<msg::task_metrics>();
  after_count(self, [self, rp, summary]() mutable {
    auto metrics = compose(self);
    metrics.task = summary;
    rp.deliver(std::move(metrics));
  });
  return rp;
}

caf::result<msg::pool_workers> pool_workers(task_actor_ptr self, const std::string& pool) {
  if (!self->state.plan) return no_site_error();
  const auto index = pool_index(self, pool);
  if (!index) return caf::make_error(ec::pool_not_found, "no application pool named " + pool);
  auto rp = self->make_response_promise<msg::pool_workers>();
  after_count(self, [self, rp, index]() mutable { rp.deliver(workers_of(self, *index)); });
  return rp;
}

caf::result<msg::open_request_list> open_requests(task_actor_ptr self) {
  if (!self->state.plan) return no_site_error();
  auto rp = self->make_response_promise<msg::open_request_list>();
  after_count(self, [self, rp]() mutable { rp.deliver(open_requests_of(self)); });
  return rp;
}

void on_count_timer(task_actor_ptr self) {
  auto& st = self->state;
  if (st.plan && !st.counting) start_count(self);
  self->delayed_send(self, count_interval, atom::count_requests_v);
}

}  // namespace nomad_iis::task_metrics
