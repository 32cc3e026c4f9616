// Starts N static sites at once through one backend and reports how long
// that took, the plugin-side cost (RSS, threads, descriptors) and the stop
// time. Not part of ctest: `iis_bench [sites]` (default 200), as root.

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <iostream>
#include <set>

#include "test_support.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

long status_value(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string name;
  long value = 0;
  while (in >> name) {
    if (name == key) {
      in >> value;
      return value;
    }
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

int open_fds() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (::readdir(dir)) ++count;
    ::closedir(dir);
  }
  return count - 2;
}

/// Waits for all completions; returns how many failed.
int wait_all(std::vector<std::future<std::optional<failure>>>& futures) {
  int failed = 0;
  for (auto& future : futures) {
    const auto error = future.get();
    if (error) {
      if (++failed < 5) std::cerr << "  failed: " << error->message << "\n";
    }
  }
  return failed;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::stoi(argv[1]) : 200;
  temp_dir root;
  auto driver = test_driver(root.path());
  const long rss_before = status_value("VmRSS:");
  auto engine = make_site_engine(driver);
  std::vector<std::unique_ptr<fake_alloc>> allocs;
  std::vector<std::unique_ptr<site_handle>> sites;
  auto observer = std::make_shared<recording_observer>();
  std::set<int> ports;
  for (int i = 0; i < count; ++i) {
    int port = free_port();
    while (!ports.insert(port).second) port = free_port();
    allocs.push_back(std::make_unique<fake_alloc>(root.path()));
    allocs.back()->write("local/site/index.html", "site " + std::to_string(i));
    config::task_config config;
    config.application_pools.push_back(make_pool("default"));
    config.applications.push_back(make_app("local/site"));
    config.bindings.push_back(http_binding());
    auto task = test_task(*allocs.back(), port);
    sites.push_back(engine->create_site(plan_site(config, task, driver), observer));
  }
  using clock = std::chrono::steady_clock;
  auto began = clock::now();
  std::vector<std::future<std::optional<failure>>> futures;
  for (auto& s : sites) {
    auto promise = std::make_shared<std::promise<std::optional<failure>>>();
    futures.push_back(promise->get_future());
    s->start([promise](std::optional<failure> error) { promise->set_value(error); });
  }
  const int start_failures = wait_all(futures);
  const auto start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - began).count();
  int serving = 0;
  for (auto& s : sites) {
    if (http_get("127.0.0.1", s->plan().bindings[0].port, "/").status == 200) ++serving;
  }
  std::cout << count << " sites: started in " << start_ms << " ms, " << start_failures
            << " failed, " << serving << " serving\n"
            << "plugin RSS " << status_value("VmRSS:") / 1024 << " MB (before " << rss_before / 1024
            << " MB), threads " << status_value("Threads:") << " (2 per fake logmon reader), fds "
            << open_fds() << " (2 FIFOs + 1 eventfd per "
            << "fake logmon)\n";
  began = clock::now();
  futures.clear();
  for (auto& s : sites) {
    auto promise = std::make_shared<std::promise<std::optional<failure>>>();
    futures.push_back(promise->get_future());
    s->destroy([promise](std::optional<failure> error) { promise->set_value(error); });
  }
  const int stop_failures = wait_all(futures);
  std::cout << "destroyed in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - began).count()
            << " ms, " << stop_failures << " failed\n";
  return start_failures || stop_failures ? 1 : 0;
}
