#pragma once
// One actor per allocation task. It owns the task's site: its data folder,
// the front actor (the nginx holding the bindings) and one pool actor per
// application pool, and it serialises every operation on the task: Nomad's
// lifecycle RPCs and Management API requests (pool commands, file changes:
// task_files.hpp) arrive here as messages and run one at a time, so they
// never race. The pools report how they look
// after every change, so status reads are answered from here at once.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/cpu_tracker.hpp"
#include "actors/status_board.hpp"
#include "actors/task_files.hpp"
#include "common/system_info.hpp"
#include "common/unique_fd.hpp"
#include "config/driver_config.hpp"
#include "iis/backend.hpp"
#include "iis/inspect/inspector.hpp"
#include "iis/state_codec.hpp"
#include "messages/management.hpp"
#include "messages/messages.hpp"
#include "messages/site.hpp"

namespace nomad_iis {

enum class task_phase { created, starting, running, stopping, exited };

/// What every task actor gets from the driver: the backend (it plans), its
/// process and files-and-sockets ports, the blocking workers (the
/// file_workers run the Management API's file steps, so a long upload never
/// delays a site's fork/exec; the tool_workers run browsers and dumps) and
/// the inspector that takes screenshots and dumps.
struct site_services {
  std::shared_ptr<iis::backend> backend;
  std::shared_ptr<iis::launcher> launcher;
  std::shared_ptr<iis::site_host> host;
  caf::actor workers;
  caf::actor file_workers;
  caf::actor tool_workers;
  inspect::inspector inspector;
  /// The node websites' actor (website_actor.hpp) for tasks with a target_website.
  caf::actor websites;
};

struct task_actor_state {
  iis::task_context task;
  config::driver_config driver;
  site_services services;
  caf::actor hub;
  /// The site's plan once the task has one; the front and the pools are
  /// spawned with it (linked: they end with the task actor).
  std::shared_ptr<const iis::site_plan> plan;
  caf::actor front;
  std::vector<caf::actor> pools;
  std::vector<msg::pool_view> pool_views;  ///< as the pools last told
  msg::front_view front_view;
  /// Held shared while we own the site: keepers start idle pools only when
  /// it is free (socket_keeper.hpp).
  unique_fd site_lock;
  /// A recovered site until settle() spawns its front and pools.
  std::optional<iis::saved_site> recovering;
  /// Its front's generations that run, oldest first (the last is current).
  std::vector<iis::front_generation> recovered_fronts;
  task_phase phase = task_phase::created;
  caf::timestamp started_at{};
  caf::timestamp completed_at{};
  msg::exit_result result;
  bool recovered = false;
  /// WaitTask callers; all get the exit result.
  std::vector<caf::response_promise> waiters;
  /// Callers waiting for the site to be handed over (the plugin exits).
  std::vector<caf::response_promise> hand_over_waiters;

  /// Operations run one at a time; the rest wait here in order.
  std::deque<std::function<void()>> queued;
  bool busy = false;

  cpu_tracker cpu{system_info::clock_ticks_per_second(), system_info::mhz_per_core()};
  /// The Management API samples on its own schedule; a separate tracker keeps
  /// Nomad's per-interval percentages undisturbed.
  cpu_tracker api_cpu{system_info::clock_ticks_per_second(), system_info::mhz_per_core()};
  /// Its last sample, shared by the polls of timeouts::status_usage_window.
  msg::task_stats api_usage;
  std::optional<std::chrono::steady_clock::time_point> api_usage_at;

  /// The metrics (task_metrics.hpp): the request totals as last counted, a
  /// count in flight and the answers waiting for it, CPU seconds and memory
  /// by pool, what the front said, the requests it has open.
  iis::request_totals requests;
  bool counting = false;
  std::vector<std::function<void()>> count_waiters;
  cpu_seconds_counter cpu_seconds{system_info::clock_ticks_per_second()};
  iis::usage_sample usage;                               ///< every process, at the last count
  std::map<std::string, std::uint64_t> rss_bytes;        ///< by pool, at the last count
  std::map<std::size_t, std::uint64_t> active_requests;  ///< by pool index, at the last count
  std::map<std::size_t, std::uint64_t> queued_requests;  ///< by pool index, at the last count
  std::optional<iis::connection_counts> connections;     ///< the front's, at the last count
  iis::open_requests open_requests;

  /// Its running `nomad alloc exec` sessions (monitored); its stop ends them.
  std::vector<caf::actor> exec_sessions;

  /// The Management API's uploads and downloads in progress (task_files.hpp).
  task_files::transfers transfers;

  /// Told our identity once the site runs, for lookups by alloc and task name.
  caf::actor_addr supervisor;
  /// Where our status is published for the Management API (status_board.hpp).
  std::shared_ptr<status_cell> status;

  static inline const char* name = "task";
};

using task_actor_ptr = caf::stateful_actor<task_actor_state>*;

/// What a request that needs the task's site gets before it has one.
caf::error no_site_error();

/// The site's status now, published to the task's status cell too: called
/// wherever the status changes (the pools' views) and for each status read.
msg::site_status published_status(task_actor_ptr self);

/// Handles start_task or recover_task first, then the rest of the lifecycle.
caf::behavior task_actor(task_actor_ptr self, site_services services, caf::actor hub,
                         config::driver_config driver, caf::actor_addr supervisor,
                         std::shared_ptr<status_cell> status);

}  // namespace nomad_iis
