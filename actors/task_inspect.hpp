#pragma once
// The task actor's looks inside its task for the Management API: a
// screenshot of its site and a core dump of a pool's worker. The task knows
// the site's address and the pools' workers; the browser or gcore runs on
// the tool workers behind the gate of its kind (at most N at once node-wide,
// the rest waiting in order, refused as busy after their wait), never on the
// task's thread and never holding up the task's other operations.

#include <string>

#include <caf/fwd.hpp>
#include <caf/result.hpp>

#include "iis/model.hpp"
#include "messages/files.hpp"
#include "messages/inspect.hpp"

namespace nomad_iis {

struct task_actor_state;

namespace task_inspect {

using self_ptr = caf::stateful_actor<task_actor_state>*;

/// Where a browser reaches the site: its first http binding, else its first
/// https one ("" when it has none).
struct site_address {
  std::string url;  ///< "http://127.0.0.1:23456"
  std::string hostname;
};
site_address address_of(const iis::site_plan& plan);

caf::result<msg::screenshot_taken> screenshot(self_ptr self, msg::take_screenshot& m);

/// The dump opened as a download of the sender (task_files::open_download).
caf::result<msg::download_started> dump(self_ptr self, msg::take_dump& m);

}  // namespace task_inspect
}  // namespace nomad_iis
