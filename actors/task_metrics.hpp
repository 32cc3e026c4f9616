#pragma once
// The task actor's metrics (GET /api/v1/metrics) and its views of pool
// workers and requests in progress: the site's request logs are read, the
// front's status and the pools' socket backlogs asked and its processes
// sampled on a blocking worker, then the numbers are composed with what the
// pools last told (states, starts, crashes). A count in flight serves every
// caller that asks meanwhile; a slow timer counts between scrapes too, so
// the logs' disk space is freed and the kept totals stay current.

#include <caf/fwd.hpp>

#include "actors/task_actor.hpp"

namespace nomad_iis::task_metrics {

/// How often the request log is counted without a scrape.
constexpr auto count_interval = std::chrono::seconds(60);

/// The task's series, once its request log is counted; `summary` names it.
caf::result<msg::task_metrics> collect(task_actor_ptr self, msg::task_summary summary);

/// The workers of `pool` with their memory and CPU time, once counted.
caf::result<msg::pool_workers> pool_workers(task_actor_ptr self, const std::string& pool);

/// The requests the front has open, once its log is read.
caf::result<msg::open_request_list> open_requests(task_actor_ptr self);

/// The timer's count (atom::count_requests); arms the next one.
void on_count_timer(task_actor_ptr self);

}  // namespace nomad_iis::task_metrics
