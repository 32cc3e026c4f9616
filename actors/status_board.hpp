#pragma once
// The task statuses the Management API reads without a message. Each task
// actor publishes its site_status into its own cell whenever its pools
// report a change and after each usage sample; the supervisor, the board's
// one writer, maps (alloc id, task name) to the newest task's cell. A read
// takes no lock and wakes no actor, so status polls cost the I/O thread
// alone. A publication whose usage sample is older than the status window
// is not served: that read goes to the task, which samples and publishes.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "messages/management.hpp"

namespace nomad_iis {

/// One published status, immutable.
class status_snapshot {
 public:
  status_snapshot(msg::site_status status, std::chrono::steady_clock::time_point sampled_at)
      : status_(std::move(status)), sampled_at_(sampled_at) {}

  const msg::site_status& status() const { return status_; }
  /// When the pools' CPU and memory in it were sampled.
  std::chrono::steady_clock::time_point sampled_at() const { return sampled_at_; }

  /// `render(status())`, made by the first reader only: however many polls
  /// read one publication, it is rendered once.
  template <class Render>
  const std::string& rendered(Render&& render) const {
    std::call_once(rendered_once_, [&] { rendered_ = render(status_); });
    return rendered_;
  }

 private:
  msg::site_status status_;
  std::chrono::steady_clock::time_point sampled_at_;
  mutable std::once_flag rendered_once_;
  mutable std::string rendered_;
};

using status_ptr = std::shared_ptr<const status_snapshot>;

/// Where one task actor publishes; read from any thread.
class status_cell {
 public:
  void publish(status_ptr s) { std::atomic_store(&current_, std::move(s)); }
  status_ptr current() const { return std::atomic_load(&current_); }

 private:
  status_ptr current_;
};

class status_board {
 public:
  /// The supervisor's: `cell` answers for (alloc_id, task_name) from now on;
  /// a null cell removes the entry.
  void assign(const std::string& alloc_id, const std::string& task_name,
              std::shared_ptr<status_cell> cell);

  /// The newest publication for (alloc_id, task_name), if any; any thread.
  status_ptr find(std::string_view alloc_id, std::string_view task_name) const;

 private:
  struct index;
  std::shared_ptr<const index> index_;
};

}  // namespace nomad_iis
