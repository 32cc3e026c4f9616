#pragma once
// A task's control groups, as Nomad's exec driver keeps them: one cgroup per
// task (a "<site>.scope" under a nomad_iis parent) with Nomad's cpu, cpuset
// and memory limits, and a leaf below it for the front and for each pool, so
// a pool's OOM kills are counted apart and a pool can get its own cpu quota.
// cgroup v2 when its controllers are usable, else v1 with a directory per
// controller. On v1 the parent sits below the plugin's own cgroup in every
// hierarchy, so whatever limits the plugin's placer set (systemd, a
// container) still hold for the sites it starts; v2 allows no processes
// beside a cgroup's enabled children, so there it sits at the root of the
// mount, as Nomad's nomad.slice does.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "iis/model.hpp"

namespace nomad_iis::iis {

/// "v1", "v2" or "" (as Nomad's unique.cgroup.version spells them).
const char* to_string(cgroup_version version);

/// What this machine offers, probed once from /proc/self/{mountinfo,cgroup}.
struct cgroup_system {
  cgroup_version version = cgroup_version::none;
  std::string mountpoint;  ///< the v2 mount, or where the v1 hierarchies are mounted
  /// Where the nomad_iis parent goes: our own cgroup in each v1 hierarchy,
  /// the root of the v2 mount.
  cgroup_dirs own;
  std::string reason;  ///< why version is none
};

/// Probes the running system. Never throws: version none says why in reason.
cgroup_system probe_cgroups();

/// probe_cgroups(), then checks that we may create the nomad_iis parent
/// (root, a writable hierarchy); version none with the reason when not.
cgroup_system usable_cgroups();

/// The cgroup.procs files of the leaf `leaf` ("exec" for commands run in
/// the task) of the task's cgroup `task` (site_plan::cgroup), created when
/// missing, for a child to join before it execs (spawn_request::cgroup_procs);
/// none when the task has no cgroup. Throws std::system_error.
std::vector<std::string> task_leaf_procs(const cgroup_dirs& task, const std::string& leaf);

/// The cgroup of the task whose site is `site_name` (a name the planner made
/// filesystem-safe; checked again here: [A-Za-z0-9._-], no leading '.', at
/// most 200 bytes, else std::invalid_argument). Pure: creates nothing.
cgroup_dirs task_cgroup(const cgroup_system& system, const std::string& site_name);

/// A leaf below `parent` ("front", "pool-<name>", "exec"); the name is checked as above.
cgroup_dirs child_cgroup(const cgroup_dirs& parent, const std::string& leaf);

/// Creates the directories of `group` (and missing parents below the
/// system's own cgroup), enables v2 controllers for it and gives a v1 cpuset
/// its parent's cpus and mems. Existing directories are fine (recovery).
/// Throws std::system_error naming the file.
void create_cgroup(const cgroup_dirs& group);

/// Writes `limits` (zero fields are left alone). v1: cpu.shares,
/// memory.limit_in_bytes, memory.soft_limit_in_bytes, memory.swappiness 0,
/// cpuset.cpus, cpu.cfs_quota_us; v2: cpu.weight, memory.max, memory.low,
/// memory.swap.max 0, cpuset.cpus, cpu.max. Throws std::system_error.
void apply_limits(const cgroup_dirs& group, const resource_limits& limits);

/// cpu.shares (2..262144) as cgroup v2's cpu.weight (1..10000), as runc
/// and Nomad convert it.
std::uint64_t cpu_weight_from_shares(std::uint64_t shares);

/// The cgroup.procs file of each directory: a child writes "0" to each
/// before exec to join (spawn_request::cgroup_procs).
std::vector<std::string> procs_files(const cgroup_dirs& group);

/// Moves process `pid` (and, on v2, its threads) into `group`. Throws std::system_error.
void place_pid(const cgroup_dirs& group, pid_t pid);

/// OOM kills counted in `group` (v1 memory.oom_control, v2 memory.events
/// "oom_kill"); 0 when the memory controller is not in use or the group is gone.
std::uint64_t oom_kill_count(const cgroup_dirs& group);

/// Every process in `group` and its descendants.
std::vector<pid_t> cgroup_pids(const cgroup_dirs& group);

/// Kills what still runs in `group` and below (SIGKILL, until empty or
/// `patience` passes), then removes the leaves and the group. Returns what
/// could not be removed ("" entries never); missing directories are fine.
std::vector<std::string> remove_cgroup(const cgroup_dirs& group,
                                       std::chrono::milliseconds patience);

/// "controller<TAB>dir" lines for a site's record, and back. decode refuses
/// (std::invalid_argument) directories that are not on a cgroup file system
/// or hold "." / ".." segments.
std::string encode_cgroup(const cgroup_dirs& group);
cgroup_dirs decode_cgroup(const std::string& text);

}  // namespace nomad_iis::iis
