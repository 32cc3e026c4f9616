#pragma once
// The node's websites (driver config `website` blocks): one actor owns them
// all, their nginx masters and which task serves which alias in each. Tasks
// with a target_website join through it (website_join), and their
// website_front (website_front.hpp) brings their routes and takes them
// away. A website's nginx starts with its first task's routes and stops
// when its last task leaves; every change is checked with `nginx -t` on a
// blocking worker before a graceful reload (SIGHUP), one change at a time.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/operation_queue.hpp"
#include "actors/poller.hpp"
#include "config/driver_config.hpp"
#include "iis/launcher.hpp"
#include "iis/model.hpp"
#include "iis/site_host.hpp"

namespace nomad_iis {

struct website_actor_state {
  struct member {
    std::string task_id;
    caf::actor_addr owner;
    std::vector<std::string> paths;  ///< the URL prefixes it serves
    std::shared_ptr<const iis::site_plan> plan;
  };
  struct website {
    std::shared_ptr<const iis::site_plan> plan;  ///< iis::plan_website
    iis::process_ref master;
    bool stopping = false;                  ///< its exit is expected
    std::map<std::string, member> members;  ///< by member key
  };

  config::driver_config driver;
  std::shared_ptr<iis::launcher> launcher;
  std::shared_ptr<iis::site_host> host;
  caf::actor workers;
  std::map<std::string, website> sites;  ///< by website name
  operation_queue ops;                   ///< one start, reload or stop at a time
  poller polls;

  static inline const char* name = "websites";
};

using website_actor_ptr = caf::stateful_actor<website_actor_state>*;

caf::behavior website_actor(website_actor_ptr self, std::shared_ptr<iis::launcher> launcher,
                            std::shared_ptr<iis::site_host> host, caf::actor workers);

}  // namespace nomad_iis
