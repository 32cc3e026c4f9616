#pragma once
// The Linux backend's entry points, for the composition root (adapters/main.cpp)
// and the backend's own tests. Actors reach both through iis/backend.hpp only.

#include <unistd.h>

#include <memory>

#include "config/driver_config.hpp"
#include "config/task_config.hpp"
#include "iis/backend.hpp"
#include "iis/model.hpp"

namespace nomad_iis::iis {

/// The Linux site host: files, users and sockets of the sites (site_host.hpp).
std::shared_ptr<site_host> make_linux_site_host();

/// The Linux backend: nginx as the front and per-pool worker processes.
std::unique_ptr<backend> make_linux_backend();

/// Resolves a validated task config against the task's context and the
/// driver config. Throws config::config_error naming the field (unknown port
/// label, path escaping the task dir, unknown Unix user, ...). Pure: it
/// creates no user and touches no file. `as_root`: whether pools run as their
/// own users (the plugin's euid is 0).
site_plan plan_site(const config::task_config& config, const task_context& task,
                    const config::driver_config& driver, bool as_root = ::geteuid() == 0);

}  // namespace nomad_iis::iis
