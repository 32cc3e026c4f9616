// site_core: what the owner may ask at any time (snapshot, usage, saved
// state, pools serving a path); cheap and thread-safe.

#include "iis/site_core.hpp"

#include <algorithm>
#include <filesystem>

#include "iis/proc_stats.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

}  // namespace

// ------------------------------------------------------------ queries

site_snapshot site_core::snapshot() const {
  site_snapshot out;
  std::lock_guard lock(mutex_);
  out.front = front_;
  out.running = front_.pid != 0 && started_;
  for (std::size_t p = 0; p < plan_.pools.size(); ++p) {
    pool_snapshot pool;
    pool.name = plan_.pools[p].name;
    pool.status = pools_[p].status;
    pool.supervisor = pools_[p].master;
    for (const auto& [pid, item] : processes_) {
      if (item.pool == p && !item.retiring &&
          (item.kind == role::pool_worker || item.kind == role::app)) {
        pool.workers.push_back(item.ref);
      }
    }
    out.pools.push_back(std::move(pool));
  }
  return out;
}

usage_sample site_core::sample_usage() const {
  std::vector<std::pair<std::string, process_ref>> processes;
  {
    std::lock_guard lock(mutex_);
    if (front_.pid) processes.emplace_back("", front_);
    for (std::size_t p = 0; p < pools_.size(); ++p) {
      if (pools_[p].master.pid) processes.emplace_back(plan_.pools[p].name, pools_[p].master);
    }
    for (const auto& [pid, item] : processes_) {
      if (item.kind == role::front_master || item.kind == role::pool_master) continue;
      processes.emplace_back(item.kind == role::front_worker ? "" : plan_.pools[item.pool].name,
                             item.ref);
    }
  }
  usage_sample sample;
  for (const auto& [pool, ref] : processes) {
    if (auto usage = read_usage(ref)) sample.by_pool[pool].push_back(*usage);
  }
  return sample;
}

std::string site_core::save_state() const {
  saved_site state;
  state.plan = plan_;
  for (auto& binding : state.plan.bindings) {
    if (binding.certificate) binding.certificate->pfx_password.clear();
  }
  std::lock_guard lock(mutex_);
  state.front = front_;
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    saved_pool pool;
    pool.status = pools_[p].status;
    pool.master = pools_[p].master;
    pool.idle = pools_[p].idle;
    for (std::size_t i = 0; i < apps_.size(); ++i) {
      if (apps_[i].pool == p && apps_[i].handler) {
        pool.apps.push_back(saved_app{i, apps_[i].port, apps_[i].process});
      }
    }
    state.pools.push_back(std::move(pool));
  }
  return encode_state(state);
}

std::vector<std::string> site_core::pools_serving(const std::string& task_path) const {
  const fs::path target = fs::path(task_path).lexically_normal();
  auto overlaps = [&](const std::string& physical) {
    const fs::path root = fs::path(physical).lexically_normal();
    auto inside = [](const fs::path& a, const fs::path& b) {
      const auto relative = a.lexically_relative(b);
      return !relative.empty() && *relative.begin() != "..";
    };
    return inside(target, root) || inside(root, target);
  };
  std::vector<std::string> pools;
  for (const auto& app : plan_.applications) {
    bool serves = overlaps(app.physical_path);
    for (const auto& vdir : app.virtual_directories)
      serves = serves || overlaps(vdir.physical_path);
    if (serves && std::find(pools.begin(), pools.end(), app.pool) == pools.end()) {
      pools.push_back(app.pool);
    }
  }
  return pools;
}

}  // namespace nomad_iis::iis
