#pragma once
// The metrics of GET /api/v1/metrics in Prometheus's text exposition format
// (prometheus-cpp). Two kinds of series:
// - the node's, counted where they happen (Management API requests, gRPC
//   calls) in a registry of this module (prometheus-cpp's counters are
//   thread-safe; nothing else holds them);
// - the tasks', made at each scrape from the plain numbers the task actors
//   answer (msg::task_metrics): requests, bytes, workers, CPU, memory,
//   starts, crashes, recycles, pool states.
// Nothing here includes prometheus-cpp in its header.

#include <string>
#include <string_view>
#include <vector>

#include "messages/management.hpp"

namespace nomad_iis::metrics {

/// The exposition's media type (text format 0.0.4).
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// One answered Management API request: its route's name ("unmatched" when
/// none matched), its status and how long it took to answer (to the first
/// byte of a streamed body).
void count_api_request(std::string_view route, int status, double seconds);

/// One gRPC call; `method` is its full name ("/pkg.Service/Method"), counted
/// by its last segment.
void count_grpc_call(std::string_view method);

/// The exposition of `tasks` (the caller chose which it may see), and with
/// `node` also the node's series: task and pool counts, API requests, gRPC calls.
std::string render(const std::vector<msg::task_metrics>& tasks, bool node);

}  // namespace nomad_iis::metrics
