#include "adapters/metrics/metrics.hpp"

#include <array>
#include <map>
#include <sstream>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace nomad_iis::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// The node's series, counted as they happen (thread-safe in prometheus-cpp).
struct node_registry {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& api_requests =
      prometheus::BuildCounter()
          .Name("nomad_iis_management_api_requests_total")
          .Help("Management API requests answered, by route and HTTP status code")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& api_latency =
      prometheus::BuildHistogram()
          .Name("nomad_iis_management_api_request_duration_seconds")
          .Help(
              "Time from a Management API request's head to its answer (a streamed body's "
              "first byte), by route and HTTP status code")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& grpc_calls =
      prometheus::BuildCounter()
          .Name("nomad_iis_grpc_calls_total")
          .Help("gRPC calls from Nomad to the plugin, by method")
          .Register(registry);
};

node_registry& node_series() {
  static node_registry registry;
  return registry;
}

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return buckets;
}

/// The pool states a pool_state series is given for (iis::to_string's).
constexpr std::array<const char*, 5> pool_states{"Starting", "Started", "Stopping", "Stopped",
                                                 "Unknown"};
constexpr std::array<const char*, 5> status_classes{"1xx", "2xx", "3xx", "4xx", "5xx"};

/// The task series, one family per name, filled pool by pool.
class task_families {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    auto it = index_.find(name);
    if (it != index_.end()) return families_[it->second];
    index_.emplace(name, families_.size());
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }

  void add(const std::string& name, const std::string& help, MetricType type,
           std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric metric;
    metric.label = std::move(labels);
    if (type == MetricType::Counter)
      metric.counter.value = value;
    else
      metric.gauge.value = value;
    family(name, help, type).metric.push_back(std::move(metric));
  }

  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::map<std::string, std::size_t> index_;
  std::vector<MetricFamily> families_;
};

std::vector<ClientMetric::Label> labels_of(const msg::task_summary& task, const std::string& pool) {
  return {{"alloc_id", task.alloc_id},
          {"job", task.job_name},
          {"namespace", task.namespace_name},
          {"pool", pool},
          {"task", task.task_name}};
}

template <class... Extra>
std::vector<ClientMetric::Label> with(std::vector<ClientMetric::Label> labels, Extra... extra) {
  (labels.push_back(extra), ...);
  return labels;
}

void add_requests(task_families& out, const std::vector<ClientMetric::Label>& labels,
                  const iis::request_tally& requests) {
  for (std::size_t c = 0; c < status_classes.size(); ++c) {
    out.add("nomad_iis_requests_total",
            "Requests the site's front finished, by pool (\"\": answered by the front itself) and "
            "status class; exact, from the front's request log",
            MetricType::Counter, with(labels, ClientMetric::Label{"code_class", status_classes[c]}),
            static_cast<double>(requests.by_class[c]));
  }
  out.add("nomad_iis_response_bytes_total",
          "Bytes the site's front sent in answers (headers and bodies), by pool",
          MetricType::Counter, labels, static_cast<double>(requests.bytes_sent));
}

void add_processes(task_families& out, const std::vector<ClientMetric::Label>& labels,
                   const msg::pool_metrics& pool) {
  out.add("nomad_iis_workers", "Live worker processes (nginx workers, application processes)",
          MetricType::Gauge, labels, static_cast<double>(pool.workers));
  out.add("nomad_iis_worker_resident_memory_bytes",
          "Resident memory of the pool's processes (the front's for pool \"\")", MetricType::Gauge,
          labels, static_cast<double>(pool.rss_bytes));
  out.add("nomad_iis_worker_cpu_seconds_total",
          "CPU time of the pool's processes while the plugin saw them (sampled at each scrape)",
          MetricType::Counter, labels, pool.cpu_seconds);
}

void add_pool(task_families& out, const std::vector<ClientMetric::Label>& labels,
              const msg::pool_metrics& pool) {
  out.add("nomad_iis_requests_active",
          "Requests in progress at the pool: the front's connections to its workers at the scrape",
          MetricType::Gauge, labels, static_cast<double>(pool.active_requests));
  out.add("nomad_iis_requests_queued",
          "Requests the front holds for the pool at the scrape: connections not yet accepted on "
          "its socket, or on its applications' wait sockets while they start",
          MetricType::Gauge, labels, static_cast<double>(pool.queued_requests));
  const auto& c = pool.counts;
  out.add("nomad_iis_worker_starts_total", "Worker and application processes the pool started",
          MetricType::Counter, labels, static_cast<double>(c.worker_starts));
  out.add("nomad_iis_worker_crashes_total", "Worker and application processes that crashed",
          MetricType::Counter, labels, static_cast<double>(c.worker_crashes));
  out.add("nomad_iis_pool_recycles_total", "Recycles of the pool (requested or periodic)",
          MetricType::Counter, labels, static_cast<double>(c.recycles));
  out.add("nomad_iis_pool_rapid_fail_trips_total", "Times rapid-fail protection stopped the pool",
          MetricType::Counter, labels, static_cast<double>(c.rapid_fail_trips));
  for (const char* state : pool_states) {
    out.add("nomad_iis_pool_state", "1 for the pool's current state, 0 for the others",
            MetricType::Gauge, with(labels, ClientMetric::Label{"state", state}),
            pool.status == state ? 1 : 0);
  }
}

/// The front's client connections by state (its stub_status), pool "".
void add_connections(task_families& out, const msg::task_metrics& task) {
  if (!task.connections_known) return;
  const auto labels = labels_of(task.task, "");
  const std::pair<const char*, std::uint64_t> states[] = {{"reading", task.connections.reading},
                                                          {"writing", task.connections.writing},
                                                          {"waiting", task.connections.waiting}};
  for (const auto& [state, count] : states)
    out.add("nomad_iis_connections",
            "Client connections of the site's front at the scrape, by state: reading a request "
            "head, writing (a request in progress), waiting (idle keep-alive)",
            MetricType::Gauge, with(labels, ClientMetric::Label{"state", state}),
            static_cast<double>(count));
}

void add_node(task_families& out, const std::vector<msg::task_metrics>& tasks) {
  out.add("nomad_iis_tasks", "Tasks the plugin runs", MetricType::Gauge, {},
          static_cast<double>(tasks.size()));
  std::map<std::string, std::size_t> by_state;
  for (const char* state : pool_states) by_state[state] = 0;
  for (const auto& task : tasks)
    for (const auto& pool : task.pools)
      if (!pool.name.empty()) ++by_state[pool.status.empty() ? "Unknown" : pool.status];
  for (const auto& [state, count] : by_state)
    out.add("nomad_iis_pools", "Application pools of all tasks, by state", MetricType::Gauge,
            {{"state", state}}, static_cast<double>(count));
}

}  // namespace

/// The series of one route and code. Add() finds them under the family's
/// lock; each thread keeps those it used (a few dozen at most: the series
/// are never removed), so a request counts without locking or allocating.
struct api_series {
  std::string route;
  int code;
  prometheus::Counter* requests;
  prometheus::Histogram* latency;
};

api_series& api_series_of(std::string_view route, int status) {
  thread_local std::vector<api_series> used;
  for (auto& s : used)
    if (s.code == status && s.route == route) return s;
  auto& node = node_series();
  const prometheus::Labels labels{{"route", std::string(route)}, {"code", std::to_string(status)}};
  return used.emplace_back(api_series{std::string(route), status, &node.api_requests.Add(labels),
                                      &node.api_latency.Add(labels, latency_buckets())});
}

void count_api_request(std::string_view route, int status, double seconds) {
  auto& series = api_series_of(route, status);
  series.requests->Increment();
  series.latency->Observe(seconds);
}

void count_grpc_call(std::string_view method) {
  const auto slash = method.rfind('/');
  const auto name = slash == std::string_view::npos ? method : method.substr(slash + 1);
  node_series().grpc_calls.Add({{"method", std::string(name)}}).Increment();
}

std::string render(const std::vector<msg::task_metrics>& tasks, bool node) {
  task_families out;
  for (const auto& task : tasks) {
    for (const auto& pool : task.pools) {
      const auto labels = labels_of(task.task, pool.name);
      add_requests(out, labels, pool.requests);
      add_processes(out, labels, pool);
      if (!pool.name.empty()) add_pool(out, labels, pool);
    }
    add_connections(out, task);
  }
  if (node) add_node(out, tasks);
  auto families = out.take();
  if (node) {
    for (auto& family : node_series().registry.Collect())
      if (!family.metric.empty()) families.push_back(std::move(family));
  }
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  return text.str();
}

}  // namespace nomad_iis::metrics
