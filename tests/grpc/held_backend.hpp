#pragma once
// A thread-safe launcher for tests that run the real gRPC server and the
// real actors on CAF's threaded scheduler (with tests/actors/fake_backend.hpp
// as the backend). Its processes are a fake_launcher behind a mutex (nothing
// runs), and a site's front is held as it spawns until the test releases
// it, so the test decides when StartTask is answered: released with nullopt
// the front comes up; released with a failure its spawn fails with that
// failure's code and text.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "iis/failure.hpp"
#include "iis/launcher.hpp"
#include "tests/actors/fake_launcher.hpp"

namespace nomad_iis::test {

/// What a held front's spawn does once released.
using release_fn = std::function<void(std::optional<iis::failure> outcome)>;

/// The fronts waiting to spawn, in the order their sites started.
class held_starts {
 public:
  /// Blocks the calling (blocking worker) thread until the test releases
  /// this start; throws the failure it was released with.
  void hold() {
    auto outcome = std::make_shared<std::promise<std::optional<iis::failure>>>();
    auto released = outcome->get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      starts_.push_back(
          [outcome](std::optional<iis::failure> result) { outcome->set_value(std::move(result)); });
    }
    changed_.notify_all();
    if (auto failed = released.get()) throw iis::backend_error(failed->code, failed->message);
  }

  /// The next held start; throws when none comes within `limit`.
  release_fn next(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, limit, [this] { return !starts_.empty(); }))
      throw std::runtime_error("no site start within the time limit");
    auto release = std::move(starts_.front());
    starts_.pop_front();
    return release;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<release_fn> starts_;
};

/// fake_launcher for many threads: one mutex around it, and the front's
/// spawn held (outside the mutex) until the test releases it.
class held_launcher final : public iis::launcher {
 public:
  explicit held_launcher(std::shared_ptr<held_starts> starts) : starts_(std::move(starts)) {}

  iis::process_ref spawn(const iis::spawn_request& request) override {
    if (is_front(request)) starts_->hold();
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.spawn(request);
  }
  iis::process_ref start_keeper(int fd, const iis::keeper_spec& spec) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.start_keeper(fd, spec);
  }
  /// Exec'd commands are real processes, watched by the Linux launcher's thread.
  std::shared_ptr<iis::exec_process> start_exec(const iis::exec_request& request) override {
    return real_->start_exec(request);
  }
  /// Graceful stops (SIGQUIT, SIGTERM) are held until their time limit.
  void hold_graceful(bool hold) {
    std::lock_guard<std::mutex> lock(mutex_);
    fake_.hold_graceful = hold;
  }
  bool signal(const iis::process_ref& process, int signal) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.signal(process, signal);
  }
  bool alive(const iis::process_ref& process) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.alive(process);
  }
  std::vector<iis::process_ref> children(const iis::process_ref& parent) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.children(parent);
  }
  std::vector<iis::process_ref> group_members(const iis::process_ref& leader,
                                              const std::string& cwd) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.group_members(leader, cwd);
  }
  bool shutting_down(const iis::process_ref& worker) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.shutting_down(worker);
  }
  std::optional<iis::process_usage> usage(const iis::process_ref& process) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.usage(process);
  }
  std::optional<std::uint64_t> private_bytes(const iis::process_ref& process) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.private_bytes(process);
  }
  bool accepts_tcp(const std::string& ip, std::int32_t port) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.accepts_tcp(ip, port);
  }
  bool accepts_unix(const std::string& dir, const std::string& name) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.accepts_unix(dir, name);
  }
  std::uint64_t watch_exit(const iis::process_ref& process,
                           std::function<void(iis::exit_status)> on_exit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.watch_exit(process, std::move(on_exit));
  }
  std::uint64_t watch_readable(int fd, std::function<void()> on_ready) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fake_.watch_readable(fd, std::move(on_ready));
  }
  void unwatch(std::uint64_t id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    fake_.unwatch(id);
  }

 private:
  static bool is_front(const iis::spawn_request& request) {
    return nginx_instance(request) == std::optional<std::string>("front");
  }

  std::shared_ptr<held_starts> starts_;
  std::shared_ptr<iis::launcher> real_ = iis::make_linux_launcher();
  std::mutex mutex_;
  fake_launcher fake_;
};

}  // namespace nomad_iis::test
