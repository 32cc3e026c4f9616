#pragma once
// The real-nginx site suites drive a task's site through its actors: a
// task actor with the Linux backend's process port and real blocking
// workers, in an actor system of its own per "plugin" (so a test can lose
// the plugin and recover the site in a new one). site_handle offers the
// operations the suites use and turns replies into completions.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "config/driver_config.hpp"
#include "iis/backend.hpp"
#include "iis/failure.hpp"
#include "iis/model.hpp"
#include "iis/site_setup.hpp"

namespace caf {
class actor_system;
class actor_system_config;
}  // namespace caf

namespace nomad_iis::iis::test {

/// Outcome of an operation: nullopt on success, else what failed.
using completion = std::function<void(std::optional<failure> error)>;

/// How a site ended on its own.
struct exit_info {
  std::int32_t exit_code = 0;
  std::int32_t signal = 0;
  std::string reason;
};

/// What a site reports without being asked: task events, and its own end.
class site_observer {
 public:
  virtual ~site_observer() = default;
  virtual void on_event(const site_event& event) = 0;
  virtual void on_exit(const exit_info& info) = 0;
};

class site_engine;

/// One task's site, run by its task actor.
class site_handle {
 public:
  site_handle(site_engine& engine, caf::actor task, task_context context, site_plan plan,
              std::shared_ptr<site_observer> observer);
  /// Lets go of the task actor without stopping anything (a lost plugin).
  ~site_handle();

  void start(completion done);
  void stop(duration timeout, std::string signal, completion done);
  void start_pools(std::vector<std::string> pools, completion done);
  void stop_pools(std::vector<std::string> pools, completion done);
  void recycle_pools(std::vector<std::string> pools, completion done);
  void destroy(completion done);
  void hand_over(completion done);
  /// Directory security again, as after a file change of the Management API.
  void refresh_access();

  site_snapshot snapshot() const;
  usage_sample sample_usage() const;
  /// The driver state a recovery starts from.
  std::string save_state() const;
  std::vector<std::string> pools_serving(const std::string& task_path) const;
  const site_plan& plan() const { return plan_; }

  /// After start/recover: reports the site's own end to the observer.
  void watch_exit();

 private:
  void ask_void(caf::message message, completion done);
  /// `done`, unless the handle is gone by the time it runs.
  completion guarded(completion done) const;

  site_engine& engine_;
  caf::actor task_;
  task_context context_;
  site_plan plan_;
  std::shared_ptr<site_observer> observer_;
  std::shared_ptr<bool> owner_ended_;  ///< stop or destroy asked: no on_exit
  /// False once the handle is gone: completions in flight are dropped.
  std::shared_ptr<std::atomic<bool>> alive_;
};

/// One "plugin": an actor system, the Linux backend, blocking workers.
class site_engine {
 public:
  explicit site_engine(const config::driver_config& driver);
  ~site_engine();

  std::unique_ptr<site_handle> create_site(site_plan plan, std::shared_ptr<site_observer> observer);
  /// Throws std::runtime_error with the task actor's reason when it fails.
  std::unique_ptr<site_handle> recover_site(const std::string& state,
                                            std::shared_ptr<site_observer> observer);
  std::vector<dangling_item> list_dangling(const std::vector<std::string>& known);
  void configure(const config::driver_config& driver) { driver_ = driver; }
  backend_info probe() { return backend_->probe(driver_.nginx_path); }

  caf::actor_system& system() { return *system_; }

 private:
  caf::actor spawn_task(const task_context& context, std::shared_ptr<site_observer> observer);

  config::driver_config driver_;
  std::unique_ptr<caf::actor_system_config> config_;  ///< the system keeps a reference
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<backend> backend_;
  caf::actor workers_;
};

std::unique_ptr<site_engine> make_site_engine(const config::driver_config& driver);

}  // namespace nomad_iis::iis::test
