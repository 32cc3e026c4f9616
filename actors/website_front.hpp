#pragma once
// The front of a task that lives in a node website (target_website): it
// speaks the front actor's messages to the task and its pools, and carries
// them to the website actor (website_actor.hpp), which owns the nginx the
// task shares with others. Stopping it takes only the task's applications
// out of the website.

#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/site_context.hpp"
#include "messages/site.hpp"

namespace nomad_iis {

struct website_front_state {
  site_context ctx;
  caf::actor websites;
  std::string key;                       ///< iis::website_member_key
  std::vector<iis::pool_routes> routes;  ///< by pool index
  iis::process_ref master;               ///< the website's nginx while the task is in it

  static inline const char* name = "website_front";
};

using website_front_ptr = caf::stateful_actor<website_front_state>*;

/// `recovered`: the website's nginx as the task's handle recorded it.
caf::behavior website_front(website_front_ptr self, site_context ctx, caf::actor websites,
                            std::optional<iis::process_ref> recovered);

}  // namespace nomad_iis
