#pragma once
// The `site` the owner holds: a thin handle on a shared site_core. Its
// destructor detaches the core, so nothing is reported after it is gone
// while the processes keep running (a plugin restart looks the same).

#include <memory>

#include "iis/site_core.hpp"

namespace nomad_iis::iis {

class linux_site final : public site {
 public:
  explicit linux_site(std::shared_ptr<site_core> core) : core_(std::move(core)) {}
  ~linux_site() override { core_->detach(); }

  void start(completion done) override { core_->start(std::move(done)); }
  void stop(duration timeout, std::string signal, completion done) override {
    core_->stop(timeout, std::move(signal), std::move(done));
  }
  void start_pools(std::vector<std::string> pools, completion done) override {
    core_->start_pools(std::move(pools), std::move(done));
  }
  void stop_pools(std::vector<std::string> pools, completion done) override {
    core_->stop_pools(std::move(pools), std::move(done));
  }
  void recycle_pools(std::vector<std::string> pools, completion done) override {
    core_->recycle_pools(std::move(pools), std::move(done));
  }
  void destroy(completion done) override { core_->destroy(std::move(done)); }
  void hand_over(completion done) override { core_->hand_over(std::move(done)); }
  void refresh_access() override { core_->refresh_access(); }
  site_snapshot snapshot() const override { return core_->snapshot(); }
  usage_sample sample_usage() const override { return core_->sample_usage(); }
  std::string save_state() const override { return core_->save_state(); }
  std::vector<std::string> pools_serving(const std::string& task_path) const override {
    return core_->pools_serving(task_path);
  }
  const site_plan& plan() const override { return core_->plan(); }

 private:
  std::shared_ptr<site_core> core_;
};

}  // namespace nomad_iis::iis
