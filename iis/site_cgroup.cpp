#include "iis/site_cgroup.hpp"

#include <unistd.h>

#include <algorithm>

#include "iis/cgroup.hpp"
#include "iis/failure.hpp"
#include "iis/proc_file.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::iis {
namespace {

constexpr auto removal_patience = std::chrono::seconds(5);

std::string record_path(const site_plan& plan) {
  return plan.data_dir + "/cgroup";
}

bool asks_for_limits(const site_plan& plan) {
  return plan.resources.any() ||
         std::any_of(plan.pools.begin(), plan.pools.end(),
                     [](const pool_plan& pool) { return pool.cpu_limit > 0; });
}

}  // namespace

std::int64_t cpu_quota_us(std::int64_t cpu_limit, long cpus) {
  constexpr std::int64_t period = 100000;
  // 100000 = 100 %: of all CPUs, as IIS counts.
  return std::max<std::int64_t>(1000, cpu_limit * std::max(1L, cpus) * period / 100000);
}

std::vector<site_event> prepare_cgroups(const site_plan& plan) {
  if (plan.cgroup.empty()) {
    if (!asks_for_limits(plan)) return {};
    const auto why =
        plan.cgroup_unavailable.empty() ? std::string("no cgroups") : plan.cgroup_unavailable;
    return {{"resource limits are not enforced: " + why, {{"cgroups", why}}}};
  }
  try {
    create_cgroup(plan.cgroup);
    apply_limits(plan.cgroup, plan.resources);
    create_cgroup(child_cgroup(plan.cgroup, layout::front_instance));
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    for (std::size_t i = 0; i < plan.pools.size(); ++i) {
      const auto leaf = child_cgroup(plan.cgroup, layout::pool_instance(i));
      create_cgroup(leaf);
      if (plan.pools[i].cpu_limit <= 0) continue;
      resource_limits quota;
      quota.cpu_quota_us = cpu_quota_us(plan.pools[i].cpu_limit, cpus);
      apply_limits(leaf, quota);
    }
    write_file_atomic(record_path(plan), encode_cgroup(plan.cgroup), 0600);
  } catch (const std::exception& e) {
    throw backend_error(errc::io_failure, std::string("cgroups: ") + e.what());
  }
  return {};
}

std::vector<std::string> instance_cgroup_procs(const site_plan& plan, const std::string& instance) {
  if (plan.cgroup.empty()) return {};
  return procs_files(child_cgroup(plan.cgroup, instance));
}

std::uint64_t instance_oom_kills(const site_plan& plan, const std::string& instance) {
  if (plan.cgroup.empty()) return 0;
  return oom_kill_count(child_cgroup(plan.cgroup, instance));
}

void load_cgroup(site_plan& plan) {
  plan.cgroup = {};
  const auto record = read_small_file(record_path(plan));
  if (!record) return;
  plan.cgroup = decode_cgroup(*record);
}

std::vector<std::string> remove_cgroups(const site_plan& plan) {
  if (plan.cgroup.empty()) return {};
  return remove_cgroup(plan.cgroup, removal_patience);
}

}  // namespace nomad_iis::iis
