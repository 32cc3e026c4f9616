// The metrics' exposition (adapters/metrics): the series of the tasks it is
// given, the node's only when asked, names and labels as Prometheus wants
// them (checked by its own promtool when installed).

#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "adapters/metrics/metrics.hpp"

using namespace nomad_iis;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

msg::task_metrics sample_task(std::string job = "web") {
  msg::task_metrics t;
  t.task.alloc_id = "9480a9c9-676e-40eb-8181-b096021bdccd";
  t.task.task_name = "app";
  t.task.job_name = std::move(job);
  t.task.namespace_name = "default";
  msg::pool_metrics front;
  front.workers = 1;
  front.rss_bytes = 7 << 20;
  front.requests.by_class[3] = 2;  // denied paths
  front.requests.bytes_sent = 300;
  msg::pool_metrics pool;
  pool.name = "default";
  pool.status = "Started";
  pool.workers = 2;
  pool.rss_bytes = 9 << 20;
  pool.cpu_seconds = 1.25;
  pool.counts = {3, 1, 2, 0};
  pool.requests.by_class = {0, 5, 1, 3, 0};
  pool.requests.bytes_sent = 4096;
  pool.active_requests = 4;
  pool.queued_requests = 6;
  t.pools = {front, pool};
  t.connections_known = true;
  t.connections = {1, 2, 7};
  return t;
}

const std::string labels =
    "alloc_id=\"9480a9c9-676e-40eb-8181-b096021bdccd\",job=\"web\",namespace=\"default\","
    "pool=\"default\",task=\"app\"";

/// promtool's verdict on `text` (exit code and output), or -1 without promtool.
std::pair<int, std::string> promtool_check(const std::string& text) {
  if (::access("/usr/bin/promtool", X_OK) != 0) return {-1, ""};
  char in_path[] = "/tmp/nomad-iis-metrics-XXXXXX";
  const int fd = ::mkstemp(in_path);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(in_path) << text;
  const std::string out_path = std::string(in_path) + ".out";
  const std::string command =
      "/usr/bin/promtool check metrics < " + std::string(in_path) + " > " + out_path + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream out(out_path);
  std::string verdict((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  std::remove(in_path);
  std::remove(out_path.c_str());
  return {WEXITSTATUS(status), verdict};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_exposition)

BOOST_AUTO_TEST_CASE(task_series_carry_the_task_and_pool_labels) {
  const auto text = metrics::render({sample_task()}, false);
  BOOST_TEST(contains(text, "# TYPE nomad_iis_requests_total counter\n"));
  BOOST_TEST(contains(text, "nomad_iis_requests_total{" + labels + ",code_class=\"2xx\"} 5\n"));
  BOOST_TEST(contains(text, "nomad_iis_requests_total{" + labels + ",code_class=\"4xx\"} 3\n"));
  BOOST_TEST(contains(text, "nomad_iis_requests_total{" + labels + ",code_class=\"5xx\"} 0\n"));
  BOOST_TEST(contains(text, "nomad_iis_response_bytes_total{" + labels + "} 4096\n"));
  BOOST_TEST(contains(text, "nomad_iis_workers{" + labels + "} 2\n"));
  BOOST_TEST(contains(text, "nomad_iis_worker_resident_memory_bytes{" + labels + "} 9437184\n"));
  BOOST_TEST(contains(text, "nomad_iis_worker_cpu_seconds_total{" + labels + "} 1.25\n"));
  BOOST_TEST(contains(text, "nomad_iis_worker_starts_total{" + labels + "} 3\n"));
  BOOST_TEST(contains(text, "nomad_iis_requests_active{" + labels + "} 4\n"));
  BOOST_TEST(contains(text, "nomad_iis_worker_crashes_total{" + labels + "} 1\n"));
  BOOST_TEST(contains(text, "nomad_iis_pool_recycles_total{" + labels + "} 2\n"));
  BOOST_TEST(contains(text, "nomad_iis_pool_rapid_fail_trips_total{" + labels + "} 0\n"));
  BOOST_TEST(contains(text, "nomad_iis_pool_state{" + labels + ",state=\"Started\"} 1\n"));
  BOOST_TEST(contains(text, "nomad_iis_pool_state{" + labels + ",state=\"Stopped\"} 0\n"));
  // The front: its requests and processes, no pool state or counts.
  const std::string front =
      "alloc_id=\"9480a9c9-676e-40eb-8181-b096021bdccd\",job=\"web\","
      "namespace=\"default\",pool=\"\",task=\"app\"";
  BOOST_TEST(contains(text, "nomad_iis_requests_total{" + front + ",code_class=\"4xx\"} 2\n"));
  BOOST_TEST(contains(text, "nomad_iis_workers{" + front + "} 1\n"));
  BOOST_TEST(!contains(text, "nomad_iis_pool_state{" + front));
  BOOST_TEST(!contains(text, "nomad_iis_worker_starts_total{" + front));
}

BOOST_AUTO_TEST_CASE(connections_are_the_fronts_and_queues_the_pools) {
  auto task = sample_task();
  const auto text = metrics::render({task}, false);
  const std::string front =
      "alloc_id=\"9480a9c9-676e-40eb-8181-b096021bdccd\",job=\"web\","
      "namespace=\"default\",pool=\"\",task=\"app\"";
  BOOST_TEST(contains(text, "# TYPE nomad_iis_connections gauge\n"));
  BOOST_TEST(contains(text, "nomad_iis_connections{" + front + ",state=\"reading\"} 1\n"));
  BOOST_TEST(contains(text, "nomad_iis_connections{" + front + ",state=\"writing\"} 2\n"));
  BOOST_TEST(contains(text, "nomad_iis_connections{" + front + ",state=\"waiting\"} 7\n"));
  BOOST_TEST(contains(text, "nomad_iis_requests_queued{" + labels + "} 6\n"));
  BOOST_TEST(!contains(text, "nomad_iis_requests_queued{" + front));
  // A front that did not answer its status gives no connection series at all.
  task.connections_known = false;
  BOOST_TEST(!contains(metrics::render({task}, false), "nomad_iis_connections"));
}

BOOST_AUTO_TEST_CASE(node_series_only_when_asked) {
  metrics::count_api_request("status", 200, 0.003);
  metrics::count_api_request("status", 200, 0.2);
  metrics::count_grpc_call("/hashicorp.nomad.plugins.drivers.proto.Driver/StartTask");
  const auto scoped = metrics::render({sample_task()}, false);
  for (const char* node : {"nomad_iis_tasks", "nomad_iis_pools", "nomad_iis_management_api",
                           "nomad_iis_grpc_calls_total"})
    BOOST_TEST(!contains(scoped, node), node);

  auto stopped = sample_task("other");
  stopped.pools[1].status = "Stopped";
  const auto text = metrics::render({sample_task(), stopped}, true);
  BOOST_TEST(contains(text, "nomad_iis_tasks 2\n"));
  BOOST_TEST(contains(text, "nomad_iis_pools{state=\"Started\"} 1\n"));
  BOOST_TEST(contains(text, "nomad_iis_pools{state=\"Stopped\"} 1\n"));
  BOOST_TEST(contains(text, "nomad_iis_pools{state=\"Starting\"} 0\n"));
  BOOST_TEST(contains(text, "nomad_iis_grpc_calls_total{method=\"StartTask\"} "));
  BOOST_TEST(contains(text, "# TYPE nomad_iis_management_api_request_duration_seconds histogram"));
  BOOST_TEST(
      contains(text, "nomad_iis_management_api_requests_total{code=\"200\",route=\"status\"} "));
  BOOST_TEST(contains(text,
                      "nomad_iis_management_api_request_duration_seconds_bucket{code=\"200\","
                      "route=\"status\",le=\"0.005\"} "));
}

BOOST_AUTO_TEST_CASE(label_values_are_escaped) {
  const auto text = metrics::render({sample_task("we\"b\\\nx")}, false);
  BOOST_TEST(contains(text, "job=\"we\\\"b\\\\\\nx\""));
}

BOOST_AUTO_TEST_CASE(promtool_accepts_the_exposition) {
  metrics::count_api_request("metrics", 200, 0.01);
  metrics::count_grpc_call("/hashicorp.nomad.plugins.drivers.proto.Driver/WaitTask");
  auto stopped = sample_task("other");
  stopped.pools[1].status = "Stopped";
  const auto text = metrics::render({sample_task(), stopped}, true);
  const auto [rc, verdict] = promtool_check(text);
  if (rc == -1) {
    BOOST_TEST_MESSAGE("promtool is not installed (Debian package prometheus): not linted");
    return;
  }
  BOOST_TEST(rc == 0, verdict << "\n" << text);
  BOOST_TEST(verdict == "", verdict);
}

BOOST_AUTO_TEST_SUITE_END()
