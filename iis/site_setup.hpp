#pragma once
// The Linux site host's files, configs and certificates (site_host.hpp says
// what each does), as plain functions without state.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/model.hpp"
#include "iis/nginx_config.hpp"
#include "iis/process.hpp"
#include "iis/site_host.hpp"
#include "iis/web_config.hpp"

namespace nomad_iis::iis {

/// Users, folders, environment file, placeholder, directory security,
/// certificates, and a check that every binding can be bound. Throws what
/// fails; returns the events worth reporting.
std::vector<site_event> prepare_site(const site_plan& plan);

/// Applies directory security again (after a file change); what it left alone.
std::vector<site_event> secure_site(const site_plan& plan);

/// Kills nothing: removes the data dir and the pools' own users. What stayed.
std::vector<std::string> remove_site(const site_plan& plan);

/// The applications of `pool` as their web.config files say now (ports 0).
std::vector<app_runtime> read_pool_apps(const site_plan& plan, std::size_t pool);

/// Renders and writes the pool's nginx configuration (its static applications).
void write_pool_conf(const site_plan& plan, std::size_t pool, const std::vector<app_runtime>& apps);

/// A task's routes as a front or a node website renders them; sockets are
/// named with `socket_prefix` (a website reaches the task's data_dir
/// through a link).
front_member member_of(const site_plan& plan, const std::vector<pool_routes>& routes,
                       const std::string& socket_prefix);

/// Who a front's (and a website's) workers run as; nullopt unless root.
std::optional<nginx_identity> front_identity();

/// The bindings' certificates (into the data_dir) and a check that each
/// can be bound now; the events worth reporting.
std::vector<site_event> prepare_bindings(const site_plan& plan);

/// Renders and writes the front's configuration from every pool's routes.
void write_front_conf(const site_plan& plan, const std::vector<pool_routes>& routes,
                      std::uint32_t generation);

/// How an nginx instance of the site starts (output fds left to the caller);
/// `listener` >= 0 is handed over as fd 3 (NGINX="3;").
spawn_request nginx_request(const site_plan& plan, const std::string& instance, int listener);

/// An application process of the pool: its spawn request with its log
/// descriptor (stdoutLogEnabled) opened below the task without following links.
app_launch app_request(const site_plan& plan, const app_runtime& app, std::int32_t port);

/// Records a started application ("pid start_ticks port") for recoveries.
void record_app(const site_plan& plan, std::size_t app, const process_ref& process,
                std::int32_t port);

/// Writes or removes the pool's stopped marker (see layout::pool_stopped_marker).
void persist_pool_stopped(const site_plan& plan, std::size_t pool, bool stopped);
bool pool_stopped_marked(const site_plan& plan, std::size_t pool);
void persist_front_serves(const site_plan& plan, std::size_t pool, bool serves);
bool front_serves_marked(const site_plan& plan, std::size_t pool);

/// The process `pid_file` names, if it runs nginx on `conf` with
/// `data_dir` as its working directory (a site's instance).
process_ref running_nginx_master(const std::string& data_dir, const std::string& pid_file,
                                 const std::string& conf);

/// The pool's nginx master as its pid file names it, if that process is an
/// nginx master working in this site's folder.
process_ref running_pool_master(const site_plan& plan, std::size_t pool);

/// The application process its pid file names and its port, if alive.
std::optional<std::pair<process_ref, std::int32_t>> running_app(const site_plan& plan,
                                                                std::size_t app);

/// The task's stdout/stderr FIFOs opened for writing, without blocking:
/// empty fds while nobody reads them yet. Throws on other errors.
void try_open_outputs(const site_plan& plan, output_fds& fds);

}  // namespace nomad_iis::iis
