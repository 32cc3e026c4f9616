#include "iis/front_generations.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "iis/failure.hpp"
#include "iis/listen_group.hpp"
#include "iis/net_probe.hpp"
#include "iis/nginx_config.hpp"
#include "iis/process.hpp"
#include "iis/site_layout.hpp"
#include "iis/site_setup.hpp"

namespace nomad_iis::iis {
namespace fs = std::filesystem;

namespace {

constexpr int front_backlog = 511;  // nginx's own default

/// The generation a file in run/ is the pid file of, if it is one.
std::optional<std::uint32_t> generation_of(const std::string& name) {
  if (name == "front.pid") return 0;
  const std::string prefix = "front-";
  const std::string suffix = ".pid";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const auto number = static_cast<std::uint32_t>(std::stoul(digits));
  if (number == 0) return std::nullopt;
  return number;
}

/// Whether `fd` is a listening member of a listen group bound to `ip`:`port`.
bool is_member_on(int fd, const std::string& ip, std::int32_t port) {
  int value = 0;
  socklen_t size = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &size) != 0 || !value) return false;
  size = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &value, &size) != 0 || !value) return false;
  sockaddr_storage want{};
  socklen_t want_length = 0;
  if (!make_address(ip, port, false, want, want_length)) return false;
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) return false;
  return bound_length == want_length && std::memcmp(&bound, &want, want_length) == 0;
}

}  // namespace

std::vector<unique_fd> join_front_groups(const site_plan& plan) {
  std::vector<unique_fd> members;
  for (const auto& [ip, port] : listen_addresses(plan.bindings)) {
    try {
      members.push_back(join_listen_group(ip, port, front_backlog));
    } catch (const backend_error& e) {
      throw backend_error(e.code(), "binding " + address_text(ip, port) + ": " + e.what());
    }
  }
  return members;
}

std::vector<unique_fd> attach_front_steering(const std::vector<int>& members) {
  std::vector<unique_fd> maps;
  for (int member : members) maps.push_back(attach_listen_steering(member));
  return maps;
}

void steer_front_groups(const std::vector<int>& maps, const std::vector<int>& members) {
  for (std::size_t i = 0; i < maps.size() && i < members.size(); ++i)
    steer_listen_group(maps[i], members[i]);
}

std::size_t queued_front_connections(const std::vector<int>& members) {
  std::size_t queued = 0;
  for (int member : members) queued += queued_connections(member);
  return queued;
}

spawn_request front_request(const site_plan& plan, std::uint32_t generation,
                            const std::vector<int>& members,
                            std::optional<std::size_t> served_pool) {
  auto request = nginx_request(
      plan, served_pool ? layout::pool_instance(*served_pool) : layout::front_instance, -1);
  // The front's own configuration and logs, wherever its processes are counted.
  request.args = nginx_arguments(plan.nginx_path, plan.data_dir, layout::front_instance);
  std::string inherited = "NGINX=";
  for (std::size_t i = 0; i < members.size(); ++i) {
    request.inherit_fds.push_back(members[i]);
    inherited += std::to_string(3 + i) + ";";
  }
  request.env.push_back(inherited);
  // A killed generation left its status socket behind, and nginx's bind to
  // an existing file fails. (logs/ is the plugin's alone.)
  ::unlink(layout::front_status_socket(plan.data_dir, generation).c_str());
  return request;
}

std::vector<front_generation> running_front_generations(const site_plan& plan) {
  std::vector<front_generation> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(layout::run_dir(plan.data_dir), error)) {
    const auto number = generation_of(entry.path().filename().string());
    if (!number) continue;
    const auto master = running_nginx_master(plan.data_dir, entry.path().string(),
                                             layout::conf(plan.data_dir, layout::front_instance));
    if (master.pid) out.push_back({*number, master});
  }
  std::sort(out.begin(), out.end(), [](const front_generation& a, const front_generation& b) {
    return a.number < b.number;
  });
  return out;
}

std::vector<unique_fd> take_front_members(const site_plan& plan, const process_ref& master) {
  const auto pidfd = open_pidfd(master);
  if (!pidfd || !is_alive(master)) return {};
  std::vector<unique_fd> members;
  int fd = 3;
  for (const auto& [ip, port] : listen_addresses(plan.bindings)) {
    unique_fd member = copy_fd_of(pidfd, fd++);
    if (!member || !is_member_on(member.get(), ip, port)) return {};
    members.push_back(std::move(member));
  }
  return members;
}

}  // namespace nomad_iis::iis
