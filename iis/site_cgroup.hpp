#pragma once
// A site's cgroups (cgroup.hpp): the task's cgroup with Nomad's limits, a
// leaf per nginx instance ("front", "pool-<i>") that the site's processes
// join before exec, the record that brings them back after a plugin
// restart, and their removal with the site.

#include <cstdint>
#include <string>
#include <vector>

#include "iis/model.hpp"
#include "iis/site_host.hpp"

namespace nomad_iis::iis {

/// Creates the task's cgroup and its leaves, applies the task's limits and
/// the pools' cpu_limit quotas, and records where they are. Nothing when the
/// plan has no cgroup: an event then says that limits are not enforced.
/// Throws backend_error when the cgroups cannot be made.
std::vector<site_event> prepare_cgroups(const site_plan& plan);

/// The cgroup.procs files a process of `instance` joins (none without a cgroup).
std::vector<std::string> instance_cgroup_procs(const site_plan& plan, const std::string& instance);

/// OOM kills so far in `instance`'s leaf; 0 without a cgroup.
std::uint64_t instance_oom_kills(const site_plan& plan, const std::string& instance);

/// A recovered plan's cgroup, from the site's record; left empty when the
/// site has none (made before cgroups, or on a machine without them).
void load_cgroup(site_plan& plan);

/// Kills what still runs in the task's cgroup and removes it; what stayed.
std::vector<std::string> remove_cgroups(const site_plan& plan);

/// cpu_limit (1/1000 of a percent of all `cpus`) as a quota per 100 ms.
std::int64_t cpu_quota_us(std::int64_t cpu_limit, long cpus);

}  // namespace nomad_iis::iis
