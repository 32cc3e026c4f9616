#pragma once
// What the actors of one site share: the plan, the process port, the
// blocking workers and who to tell (the task actor). Plus the small tools
// every one of them uses on its own thread: watching, killing and waiting
// for processes, opening the task's log FIFOs, reporting events.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/poller.hpp"
#include "iis/failure.hpp"
#include "iis/launcher.hpp"
#include "iis/model.hpp"
#include "iis/site_host.hpp"

namespace nomad_iis {

struct site_context {
  std::shared_ptr<const iis::site_plan> plan;
  std::shared_ptr<iis::launcher> launcher;
  std::shared_ptr<iis::site_host> host;
  caf::actor workers;     ///< actors/blocking.hpp
  caf::actor_addr owner;  ///< the task actor: events, pool views, a dead front
};

/// How long killed processes may take to be gone.
constexpr auto kill_grace = std::chrono::seconds(3);
/// How long a new nginx master may take to fork its workers.
constexpr auto adopt_limit = std::chrono::seconds(3);
/// How often waits check processes, sockets and FIFOs.
constexpr auto gone_interval = std::chrono::milliseconds(20);
constexpr auto adopt_interval = std::chrono::milliseconds(10);
constexpr auto retire_interval = std::chrono::milliseconds(5);
constexpr auto outputs_interval = std::chrono::milliseconds(50);

/// Watches `process`; its end arrives at `self` as msg::process_exit.
std::uint64_t watch_process(caf::event_based_actor* self, iis::launcher& launcher,
                            const iis::process_ref& process);

/// SIGKILLs the processes and their children (nginx workers outlive a
/// killed master), stopped first so a master respawns nothing. Returns
/// everything it killed, for wait_gone().
std::vector<iis::process_ref> kill_all(iis::launcher& launcher,
                                       const std::vector<iis::process_ref>& processes);

/// Calls `next(left)` once the processes are gone or at `deadline`.
void wait_gone(caf::event_based_actor* self, poller& polls, iis::launcher& launcher,
               std::vector<iis::process_ref> processes, poller::time_point deadline,
               std::function<void(std::vector<iis::process_ref> left)> next);

/// Opens the task's log FIFOs once logmon reads them. `fall_back_to_null`:
/// at the deadline (or when `give_up()` says so) the processes get /dev/null.
using outputs_ptr = std::shared_ptr<iis::output_fds>;
void open_outputs(caf::event_based_actor* self, poller& polls, const site_context& ctx,
                  poller::time_point deadline, bool fall_back_to_null,
                  std::function<bool()> give_up,
                  std::function<void(std::optional<iis::failure> error, outputs_ptr)> next);

/// One pool's routes as a front keeps them (by pool index; another index is ignored).
void keep_routes(std::vector<iis::pool_routes>& routes, iis::pool_routes changed);

/// A task event from the site ("site" annotation added) to the task actor.
void emit(caf::event_based_actor* self, const site_context& ctx, const std::string& message,
          std::map<std::string, std::string> annotations = {});

/// Something that must accept connections before a start counts as done.
struct ready_target {
  std::string what;  ///< for the error text
  std::string ip;    ///< tcp
  std::int32_t port = 0;
  std::string socket;  ///< unix socket name relative to the data_dir ("" = tcp)
  /// An nginx on an inherited socket (connecting proves nothing, the backlog
  /// is ours): ready once the master started a worker.
  bool nginx_workers = false;
  iis::process_ref owner;  ///< fail early when it dies
  std::string owner_log;   ///< nginx alert log of the owner ("" = none)
  poller::time_point deadline;
  std::string limit_text;  ///< "90s", for the error text
};

/// Calls `next(error)` once every target accepts (nullopt), or with why not.
void wait_ready(caf::event_based_actor* self, poller& polls, const site_context& ctx,
                std::vector<ready_target> targets,
                std::function<void(std::optional<iis::failure>)> next);

/// Waits until old nginx workers no longer accept: gone, or "shutting down".
void wait_retired(caf::event_based_actor* self, poller& polls, iis::launcher& launcher,
                  std::vector<iis::process_ref> workers, poller::time_point deadline,
                  std::function<void()> next);

}  // namespace nomad_iis
