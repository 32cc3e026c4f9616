#pragma once
// Every timeout the actors and their callers use, named in one place.

#include <chrono>

namespace nomad_iis::timeouts {

using namespace std::chrono_literals;

/// A request that only reads actor state (inspect, status, stats sample).
constexpr auto query = 10s;

/// Lifecycle requests that wait for a backend operation (start, stop, pool ops).
/// Bounded by the pool time limits; generous so a slow start still answers.
constexpr auto lifecycle = 10min;

/// Graceful stop when the caller gives none (Nomad's default kill_timeout).
constexpr auto default_kill = 5s;

/// Force-destroying a running task: how long to drain before killing.
constexpr auto forced_destroy_drain = 2s;

/// Management API status polls within this span share one /proc sample of
/// the task's processes (a CPU percentage needs a span to mean anything).
constexpr auto status_usage_window = 250ms;

/// How often a pool with a private_memory_limit looks at its workers.
constexpr auto private_memory_check = 5s;

/// How long an exiting plugin waits for its sites to start their idle pools
/// (nobody answers their activation sockets until a recovery). Shutdown must
/// end within 2 s, the gRPC server's drain included.
constexpr auto hand_over = 800ms;

/// How long a core dump may wait for a free slot of its gate, and how long
/// gcore may take.
constexpr auto dump_queue_wait = 60s;
constexpr auto dump_run = 5min;

/// How long the supervisor waits for one task's metrics (a count of its
/// request log on a blocking worker); a task that takes longer is left out
/// of that scrape rather than failing it.
constexpr auto metrics_of_task = 5s;

/// An older front generation drains at least this long: connections the
/// kernel began on its members before the steering moved complete late
/// under load.
constexpr auto front_drain_minimum = 1s;

/// Minimum spacing between fingerprints, whatever the config says.
constexpr auto min_fingerprint_interval = 10s;

}  // namespace nomad_iis::timeouts
