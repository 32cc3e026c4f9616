#pragma once
// A thread-safe backend for tests that run the real gRPC server on CAF's
// threaded scheduler: a site's start is held until the test releases it (so
// the test decides when the actors answer StartTask); every other operation
// succeeds at once.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "iis/backend.hpp"
#include "iis/linux_backend.hpp"

namespace nomad_iis::test {

/// The completions of site starts, in the order the sites asked.
class held_starts {
 public:
  void hold(iis::completion done) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      starts_.push_back(std::move(done));
    }
    changed_.notify_all();
  }

  /// The next held start; throws when none comes within `limit`.
  iis::completion next(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, limit, [this] { return !starts_.empty(); }))
      throw std::runtime_error("no site start within the time limit");
    auto done = std::move(starts_.front());
    starts_.pop_front();
    return done;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<iis::completion> starts_;
};

class held_site final : public iis::site {
 public:
  held_site(std::shared_ptr<held_starts> starts, iis::site_plan plan)
      : starts_(std::move(starts)), plan_(std::move(plan)) {}

  void start(iis::completion done) override { starts_->hold(std::move(done)); }
  void stop(iis::duration, std::string, iis::completion done) override { done(std::nullopt); }
  void start_pools(std::vector<std::string>, iis::completion done) override { done(std::nullopt); }
  void stop_pools(std::vector<std::string>, iis::completion done) override { done(std::nullopt); }
  void recycle_pools(std::vector<std::string>, iis::completion done) override {
    done(std::nullopt);
  }
  void destroy(iis::completion done) override { done(std::nullopt); }
  void hand_over(iis::completion done) override { done(std::nullopt); }
  void refresh_access() override {}

  iis::site_snapshot snapshot() const override {
    iis::site_snapshot s;
    s.running = true;
    s.front = {100, 1};
    s.pools.push_back({"default", iis::pool_status::started, {{101, 2}}, {}});
    return s;
  }
  iis::usage_sample sample_usage() const override {
    iis::usage_sample u;
    u.by_pool[""].push_back({100, 10, 5, 4096});
    return u;
  }
  std::string save_state() const override { return "{\"held\":\"" + plan_.site_name + "\"}"; }
  std::vector<std::string> pools_serving(const std::string&) const override { return {"default"}; }
  const iis::site_plan& plan() const override { return plan_; }

 private:
  std::shared_ptr<held_starts> starts_;
  iis::site_plan plan_;
};

class held_backend final : public iis::backend {
 public:
  explicit held_backend(std::shared_ptr<held_starts> starts) : starts_(std::move(starts)) {}

  void configure(const config::driver_config&) override {}
  void probe(std::function<void(iis::backend_info)> done) override {
    done({true, "nginx/1.22.1", ""});
  }
  /// The real planner: config errors reach the actors as they would in the plugin.
  iis::site_plan plan_site(const config::task_config& config, const iis::task_context& task,
                           const config::driver_config& driver) override {
    return iis::plan_site(config, task, driver);
  }
  std::unique_ptr<iis::site> create_site(iis::site_plan plan,
                                         std::shared_ptr<iis::site_observer>) override {
    return std::make_unique<held_site>(starts_, std::move(plan));
  }
  std::unique_ptr<iis::site> recover_site(std::string_view,
                                          std::shared_ptr<iis::site_observer>) override {
    throw std::runtime_error("held_backend recovers nothing");
  }
  std::vector<iis::dangling_item> list_dangling(const std::vector<std::string>&) override {
    return {};
  }

 private:
  std::shared_ptr<held_starts> starts_;
};

}  // namespace nomad_iis::test
