#pragma once
// A backend for actor unit tests: records every call and holds completions
// until the test releases them, so each interleaving is deterministic.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "iis/backend.hpp"
#include "iis/linux_backend.hpp"

namespace nomad_iis::test {

struct fake_world {
  std::vector<std::string> calls;  ///< "start", "stop", "recycle", ...
  std::deque<std::pair<std::string, iis::completion>> pending;
  std::shared_ptr<iis::site_observer> last_observer;
  std::optional<iis::failure> fail_next;  ///< the next completion reports this failure
  bool recover_throws = false;
  iis::backend_info probe_answer{true, "nginx/1.22.1", ""};
  std::vector<std::function<void(iis::backend_info)>> pending_probes;
  std::uint64_t cpu_ticks = 0;
  int sites_alive = 0;

  /// Runs the oldest held completion; returns its call name.
  std::string complete_next() {
    if (pending.empty()) throw std::logic_error("no pending completion");
    auto [name, done] = std::move(pending.front());
    pending.pop_front();
    auto err = fail_next;
    fail_next.reset();
    done(err);
    return name;
  }
  void answer_probes() {
    auto probes = std::move(pending_probes);
    pending_probes.clear();
    for (auto& p : probes) p(probe_answer);
  }
};

class fake_site final : public iis::site {
 public:
  fake_site(std::shared_ptr<fake_world> world, iis::site_plan plan)
      : world_(std::move(world)), plan_(std::move(plan)) {
    ++world_->sites_alive;
  }
  ~fake_site() override { --world_->sites_alive; }

  void start(iis::completion done) override { hold("start", std::move(done)); }
  void stop(iis::duration, std::string signal, iis::completion done) override {
    hold("stop" + (signal.empty() ? std::string() : ":" + signal), std::move(done));
  }
  void start_pools(std::vector<std::string>, iis::completion done) override {
    hold("start_pools", std::move(done));
  }
  void stop_pools(std::vector<std::string>, iis::completion done) override {
    hold("stop_pools", std::move(done));
  }
  void recycle_pools(std::vector<std::string>, iis::completion done) override {
    hold("recycle", std::move(done));
  }
  void destroy(iis::completion done) override { hold("destroy", std::move(done)); }
  void hand_over(iis::completion done) override { hold("hand_over", std::move(done)); }
  void refresh_access() override { world_->calls.push_back("refresh_access"); }

  iis::site_snapshot snapshot() const override {
    iis::site_snapshot s;
    s.running = true;
    s.front = {100, 1};
    s.pools.push_back({"default", iis::pool_status::started, {{101, 2}}, {}});
    return s;
  }
  iis::usage_sample sample_usage() const override {
    iis::usage_sample u;
    u.by_pool[""].push_back({100, world_->cpu_ticks, world_->cpu_ticks / 2, 4096});
    u.by_pool["default"].push_back({101, world_->cpu_ticks * 2, 0, 8192});
    return u;
  }
  std::string save_state() const override { return "{\"fake\":\"" + plan_.site_name + "\"}"; }
  std::vector<std::string> pools_serving(const std::string&) const override { return {"default"}; }
  const iis::site_plan& plan() const override { return plan_; }

 private:
  void hold(std::string name, iis::completion done) {
    world_->calls.push_back(name);
    world_->pending.emplace_back(std::move(name), std::move(done));
  }
  std::shared_ptr<fake_world> world_;
  iis::site_plan plan_;
};

class fake_backend final : public iis::backend {
 public:
  explicit fake_backend(std::shared_ptr<fake_world> world) : world_(std::move(world)) {}

  void configure(const config::driver_config&) override { world_->calls.push_back("configure"); }
  void probe(std::function<void(iis::backend_info)> done) override {
    world_->pending_probes.push_back(std::move(done));
  }
  /// The real planner: config errors reach the actors as they would in the plugin.
  iis::site_plan plan_site(const config::task_config& config, const iis::task_context& task,
                           const config::driver_config& driver) override {
    return iis::plan_site(config, task, driver);
  }
  std::unique_ptr<iis::site> create_site(iis::site_plan plan,
                                         std::shared_ptr<iis::site_observer> observer) override {
    world_->calls.push_back("create");
    world_->last_observer = std::move(observer);
    return std::make_unique<fake_site>(world_, std::move(plan));
  }
  std::unique_ptr<iis::site> recover_site(std::string_view saved,
                                          std::shared_ptr<iis::site_observer> observer) override {
    world_->calls.push_back("recover:" + std::string(saved));
    if (world_->recover_throws) throw std::runtime_error("front nginx (pid 100) is gone");
    world_->last_observer = std::move(observer);
    iis::site_plan plan;
    plan.site_name = "recovered";
    return std::make_unique<fake_site>(world_, std::move(plan));
  }
  std::vector<iis::dangling_item> list_dangling(const std::vector<std::string>&) override {
    return {};
  }

 private:
  std::shared_ptr<fake_world> world_;
};

}  // namespace nomad_iis::test
