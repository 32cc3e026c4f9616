#include "iis/model.hpp"

#include <algorithm>

namespace nomad_iis::iis {

const char* process_handler::element_name() const {
  return type == kind::asp_net_core ? "aspNetCore" : "httpPlatform";
}

const char* to_string(pool_status status) {
  switch (status) {
    case pool_status::starting:
      return "Starting";
    case pool_status::started:
      return "Started";
    case pool_status::stopping:
      return "Stopping";
    case pool_status::stopped:
      return "Stopped";
    case pool_status::unknown:
      break;
  }
  return "Unknown";
}

duration longest_shutdown_time_limit(const site_plan& plan) {
  duration longest{0};
  for (const auto& pool : plan.pools) longest = std::max(longest, pool.shutdown_time_limit);
  return longest;
}

std::string seconds_text(duration value) {
  const auto ms = value.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string address_text(const std::string& ip, std::int32_t port) {
  if (ip.empty()) return "*:" + std::to_string(port);
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::vector<std::string> cgroup_dirs::unique_dirs() const {
  std::vector<std::string> dirs;
  for (const auto& [controller, dir] : by_controller)
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  return dirs;
}

std::string cgroup_dirs::dir_of(const std::string& controller) const {
  if (version == cgroup_version::v2) return by_controller.count("") ? by_controller.at("") : "";
  auto it = by_controller.find(controller);
  return it == by_controller.end() ? std::string() : it->second;
}

}  // namespace nomad_iis::iis
