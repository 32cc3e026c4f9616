#pragma once
// The files of a node website (iis/website.hpp): its folders, certificates
// and configuration, and each task's fragments in it, checked with
// `nginx -t` before the website's nginx ever reads them.

#include <string>
#include <vector>

#include "iis/model.hpp"
#include "iis/site_host.hpp"

namespace nomad_iis::iis {

/// Folders, certificates and the website's configuration, and a check that
/// its bindings can be bound; fragments of tasks not in `member_keys` (left
/// by an earlier run) go. Only while its nginx does not run.
std::vector<site_event> prepare_website(const site_plan& website,
                                        const std::vector<std::string>& member_keys);

/// Writes a task's fragments (`task` set) or removes them (`task` null),
/// then runs `nginx -t`: when nginx refuses, the previous fragments come
/// back and the error quotes nginx, so a reload never meets a bad config.
void update_website_member(const site_plan& website, const std::string& key, const site_plan* task,
                           const std::vector<pool_routes>& routes);

/// The website's log files (in its own folder, never through a link) opened
/// as its nginx's stdout and stderr. Throws backend_error (io_failure).
output_fds open_website_logs(const site_plan& website);

/// The website's nginx master as its pid file names it, if that process is
/// an nginx master working in the website's folder.
process_ref running_website_master(const site_plan& website);

}  // namespace nomad_iis::iis
