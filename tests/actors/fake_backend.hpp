#pragma once
// The backend port for the actor and gRPC tests: it plans with the Linux
// backend's real planner, its processes are the launcher the test gives (a
// fake_launcher, or the gRPC tests' held_launcher), its files the Linux site
// host below the test's folder, its web server probe answers what the test
// says, and no site dangles. The front's listening sockets are not made
// (fake_site_host).

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "iis/backend.hpp"
#include "iis/linux_backend.hpp"
#include "iis/linux_site_host.hpp"
#include "iis/nginx_config.hpp"
#include "tests/actors/fake_launcher.hpp"

namespace nomad_iis::test {

/// The Linux site host, but the front's listening sockets are not made:
/// its nginx masters are rows of a table that listen on nothing (a real
/// socket would hold the binding's port, which the tests share between
/// their tasks).
class fake_site_host final : public iis::linux_site_host {
 public:
  std::vector<unique_fd> join_front_groups(const iis::site_plan& plan) override {
    return placeholders(iis::listen_addresses(plan.bindings).size());
  }
  std::vector<unique_fd> attach_front_steering(const std::vector<int>& members) override {
    return placeholders(members.size());
  }
  void steer_front_groups(const std::vector<int>&, const std::vector<int>&) override {}

 private:
  /// Descriptors that stand for sockets and maps: /dev/null, one each.
  static std::vector<unique_fd> placeholders(std::size_t count) {
    std::vector<unique_fd> fds;
    for (std::size_t i = 0; i < count; ++i)
      fds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    return fds;
  }
};

class fake_backend final : public iis::backend {
 public:
  /// `as_root`: whether sites are planned with a Unix user per pool.
  explicit fake_backend(std::shared_ptr<iis::launcher> launcher, bool as_root = ::geteuid() == 0)
      : launcher_(std::move(launcher)), as_root_(as_root) {}

  /// What the next probes answer.
  iis::backend_info probe_answer{true, "nginx/1.22.1", "", "v1", "/sys/fs/cgroup"};
  /// The nginx paths probed, in order.
  std::vector<std::string> probes;

  iis::backend_info probe(const std::string& nginx_path) override {
    probes.push_back(nginx_path);
    return probe_answer;
  }
  /// The Linux backend's real planner.
  iis::site_plan plan_site(const config::task_config& config, const iis::task_context& task,
                           const config::driver_config& driver) override {
    return iis::plan_site(config, task, driver, as_root_);
  }
  std::shared_ptr<iis::launcher> processes() override { return launcher_; }
  /// The Linux host: real folders, configs and sockets below the test's folder.
  std::shared_ptr<iis::site_host> host() override { return host_; }
  std::vector<iis::dangling_item> list_dangling(const std::string&,
                                                const std::vector<std::string>&) override {
    return {};
  }

 private:
  std::shared_ptr<iis::launcher> launcher_;
  bool as_root_;
  std::shared_ptr<iis::site_host> host_ = std::make_shared<fake_site_host>();
};

}  // namespace nomad_iis::test
