#pragma once
// Messages of the Management API: the HTTP adapter finds a task's actor
// through the supervisor, then talks to that actor directly, so requests on
// one task are serialised and different tasks run in parallel.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "iis/front_status.hpp"
#include "iis/request_log.hpp"
#include "messages/messages.hpp"

namespace nomad_iis::msg {

/// Who a task is, as the Management API lists it.
struct task_summary {
  std::string task_id;
  std::string alloc_id;
  std::string task_name;
  std::string job_name;
  std::string group_name;
  std::string namespace_name;
  std::string site_name;  ///< the backend's name for the task's site
  bool recovered = false;
};

/// Supervisor: the actor of (alloc_id, task_name), or task_not_found.
struct find_task {
  std::string alloc_id;
  std::string task_name;
};

struct found_task {
  caf::actor task;
  task_summary summary;
};

/// Supervisor: the site_status of (alloc_id, task_name), answered by the
/// task's actor itself (one request where find_task + get_site_status is two).
struct find_site_status {
  std::string alloc_id;
  std::string task_name;
};

/// Supervisor: every tracked task.
struct list_tasks {};

struct task_list {
  std::vector<task_summary> tasks;
};

/// Supervisor: tracked tasks plus site folders/processes no task owns.
struct get_debug_info {};

struct dangling_site {
  std::string site_name;
  std::string data_dir;
  std::vector<std::int32_t> pids;
};

struct debug_info {
  std::vector<task_summary> tasks;
  std::vector<dangling_site> dangling;
};

// ---- sent to a task actor ----

struct get_site_status {};

struct pool_info {
  std::string name;
  std::string status;  ///< Starting, Started, Stopping, Stopped, Unknown
  bool worker_running = false;
  std::vector<std::int32_t> worker_pids;
  resource_usage usage;
};

struct site_status {
  task_summary task;
  std::string task_dir;
  std::string alloc_dir;
  std::string secrets_dir;
  /// First http binding as a loopback-reachable URL ("http://127.0.0.1:23456"); without
  /// one the first https binding ("https://127.0.0.1:23457"); "" if none.
  std::string http_url;
  /// The binding's hostname when it has one (send it as Host), else "".
  std::string http_hostname;
  std::vector<pool_info> pools;
};

enum class pool_op : std::uint8_t { start, stop, recycle };

/// Start/stop/recycle pools; an empty list means every pool.
struct pool_command {
  pool_op op = pool_op::recycle;
  std::vector<std::string> pools;
};

// ---- metrics (GET /api/v1/metrics) ----

/// Task actor: its series now (the request log counted first).
struct get_task_metrics {};

/// What a pool actor counted since it began (a plugin restart starts again).
struct pool_counts {
  std::uint64_t worker_starts = 0;  ///< worker and application processes started
  std::uint64_t worker_crashes = 0;
  std::uint64_t recycles = 0;
  std::uint64_t rapid_fail_trips = 0;  ///< rapid-fail protection stopped the pool
};

/// One pool's numbers; name "" is the site's front (its nginx, and the
/// requests it answered itself).
struct pool_metrics {
  std::string name;
  std::string status;  ///< as in site_status; "" for the front
  std::uint64_t workers = 0;
  std::uint64_t rss_bytes = 0;
  double cpu_seconds = 0;  ///< of every process seen since the plugin began
  pool_counts counts;
  iis::request_tally requests;
  std::uint64_t active_requests = 0;  ///< the front's connections to it now
  /// Connections waiting to be accepted on its socket or its starting apps'
  /// wait sockets: requests the front holds for it now.
  std::uint64_t queued_requests = 0;
};

struct task_metrics {
  task_summary task;
  std::vector<pool_metrics> pools;
  bool connections_known = false;  ///< the front answered its status
  iis::connection_counts connections;
};

// ---- pools' workers and requests in progress ----

/// Task actor: one pool's worker processes, sampled now.
struct get_pool_workers {
  std::string pool;
};

struct worker_info {
  std::int32_t pid = 0;
  std::int64_t started_ms = 0;  ///< Unix time of its start, milliseconds
  std::uint64_t rss_bytes = 0;
  double cpu_seconds = 0;
};

struct pool_workers {
  std::string pool;
  std::string status;
  /// Requests the pool finished since the site began (the request log: per
  /// pool, not per process).
  std::uint64_t requests_served = 0;
  std::vector<worker_info> workers;
};

/// Task actor: the requests the front is serving now (its open-requests log).
struct get_open_requests {};

struct request_info {
  std::string method;
  std::string path;
  std::string client;
  std::string pool;
  double elapsed_seconds = 0;
};

struct open_request_list {
  std::vector<request_info> requests;
};

/// Supervisor: every task's task_metrics.
struct collect_metrics {};

struct metrics_snapshot {
  std::vector<task_metrics> tasks;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_summary& x) {
  return f(caf::meta::type_name("task_summary"), x.task_id, x.alloc_id, x.task_name, x.job_name,
           x.group_name, x.namespace_name, x.site_name, x.recovered);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, find_task& x) {
  return f(caf::meta::type_name("find_task"), x.alloc_id, x.task_name);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, find_site_status& x) {
  return f(caf::meta::type_name("find_site_status"), x.alloc_id, x.task_name);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, found_task& x) {
  return f(caf::meta::type_name("found_task"), x.task, x.summary);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_tasks&) {
  return f(caf::meta::type_name("list_tasks"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_list& x) {
  return f(caf::meta::type_name("task_list"), x.tasks);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_debug_info&) {
  return f(caf::meta::type_name("get_debug_info"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dangling_site& x) {
  return f(caf::meta::type_name("dangling_site"), x.site_name, x.data_dir, x.pids);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, debug_info& x) {
  return f(caf::meta::type_name("debug_info"), x.tasks, x.dangling);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_site_status&) {
  return f(caf::meta::type_name("get_site_status"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_info& x) {
  return f(caf::meta::type_name("pool_info"), x.name, x.status, x.worker_running, x.worker_pids,
           x.usage);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, site_status& x) {
  return f(caf::meta::type_name("site_status"), x.task, x.task_dir, x.alloc_dir, x.secrets_dir,
           x.http_url, x.http_hostname, x.pools);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_command& x) {
  return f(caf::meta::type_name("pool_command"), x.op, x.pools);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_task_metrics&) {
  return f(caf::meta::type_name("get_task_metrics"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_counts& x) {
  return f(caf::meta::type_name("pool_counts"), x.worker_starts, x.worker_crashes, x.recycles,
           x.rapid_fail_trips);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_metrics& x) {
  return f(caf::meta::type_name("pool_metrics"), x.name, x.status, x.workers, x.rss_bytes,
           x.cpu_seconds, x.counts, x.requests, x.active_requests, x.queued_requests);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_metrics& x) {
  return f(caf::meta::type_name("task_metrics"), x.task, x.pools, x.connections_known,
           x.connections);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_pool_workers& x) {
  return f(caf::meta::type_name("get_pool_workers"), x.pool);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_info& x) {
  return f(caf::meta::type_name("worker_info"), x.pid, x.started_ms, x.rss_bytes, x.cpu_seconds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_workers& x) {
  return f(caf::meta::type_name("pool_workers"), x.pool, x.status, x.requests_served, x.workers);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_open_requests&) {
  return f(caf::meta::type_name("get_open_requests"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_info& x) {
  return f(caf::meta::type_name("request_info"), x.method, x.path, x.client, x.pool,
           x.elapsed_seconds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, open_request_list& x) {
  return f(caf::meta::type_name("open_request_list"), x.requests);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, collect_metrics&) {
  return f(caf::meta::type_name("collect_metrics"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metrics_snapshot& x) {
  return f(caf::meta::type_name("metrics_snapshot"), x.tasks);
}

}  // namespace nomad_iis::msg

namespace nomad_iis::iis {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_tally& x) {
  return f(caf::meta::type_name("request_tally"), x.by_class, x.bytes_sent);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_counts& x) {
  return f(caf::meta::type_name("connection_counts"), x.reading, x.writing, x.waiting);
}

}  // namespace nomad_iis::iis
