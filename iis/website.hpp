#pragma once
// Node websites (the driver config's `website` blocks): a site of the node
// whose applications come from the tasks that name it in target_website.
// Pure planning and naming; the website actor runs it (actors/website_actor.hpp).

#include <string>
#include <vector>

#include "config/driver_config.hpp"
#include "iis/model.hpp"

namespace nomad_iis::iis {

/// The website's own plan: its data folder (<data_dir>/websites/<name>),
/// its bindings with numeric ports and normalised addresses, its root
/// folder, nginx. No pools and no applications: the tasks bring those.
/// Throws config::config_error naming the field.
site_plan plan_website(const config::website_config& site, const config::driver_config& driver);

/// The short, stable name of a task in a website (its fragments and its
/// link to the task's data_dir): 16 hex digits of FNV-1a over the site name.
std::string website_member_key(const std::string& site_name);

/// The URL prefixes a task's applications and virtual directories claim in
/// a website (each a location there: no two tasks may share one).
std::vector<std::string> claimed_paths(const site_plan& plan);

}  // namespace nomad_iis::iis
