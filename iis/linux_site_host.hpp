#pragma once
// The Linux site host: site_host's calls on the functions that do the work
// (site_setup, site_files, nginx_log, net_probe, activation_socket,
// pool_activity, socket_keeper, unix_users, front_generations). A class of
// its own so that the actor tests can replace what needs a real nginx.

#include <filesystem>
#include <fstream>
#include <iterator>
#include "iis/activation_socket.hpp"
#include "iis/front_probe.hpp"
#include "iis/linux_backend.hpp"
#include "iis/listen_group.hpp"
#include "iis/net_probe.hpp"
#include "iis/nginx_log.hpp"
#include "iis/pool_activity.hpp"
#include "iis/request_counter.hpp"
#include "iis/site_cgroup.hpp"
#include "iis/site_files.hpp"
#include "iis/site_host.hpp"
#include "iis/site_layout.hpp"
#include "iis/site_setup.hpp"
#include "iis/socket_keeper.hpp"
#include "iis/state_codec.hpp"
#include "iis/unix_users.hpp"
#include "iis/website_setup.hpp"

namespace nomad_iis::iis {

class linux_site_host : public site_host {
 public:
  std::vector<site_event> prepare_site(const site_plan& plan) override {
    return iis::prepare_site(plan);
  }
  std::vector<site_event> secure_site(const site_plan& plan) override {
    return iis::secure_site(plan);
  }
  std::vector<std::string> remove_site(const site_plan& plan) override {
    return iis::remove_site(plan);
  }
  std::vector<std::string> remove_pool_users(const site_plan& plan) override {
    return iis::remove_pool_users(plan);
  }
  bool load_site(site_plan& plan) override {
    std::error_code error;
    if (!std::filesystem::is_directory(plan.data_dir, error)) return false;
    std::ifstream in(layout::environment_file(plan.data_dir), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!bytes.empty()) decode_environment(bytes, plan);
    try {
      load_cgroup(plan);
    } catch (const std::exception&) {
      plan.cgroup = {};  // a record we do not trust: its processes run on, unlimited by us
    }
    return true;
  }
  std::vector<app_runtime> read_pool_apps(const site_plan& plan, std::size_t pool) override {
    return iis::read_pool_apps(plan, pool);
  }
  void write_pool_conf(const site_plan& plan, std::size_t pool,
                       const std::vector<app_runtime>& apps) override {
    iis::write_pool_conf(plan, pool, apps);
  }
  std::vector<site_event> prepare_website(const site_plan& website,
                                          const std::vector<std::string>& member_keys) override {
    return iis::prepare_website(website, member_keys);
  }
  void update_website_member(const site_plan& website, const std::string& key,
                             const site_plan* task,
                             const std::vector<pool_routes>& routes) override {
    iis::update_website_member(website, key, task, routes);
  }
  output_fds open_website_logs(const site_plan& website) override {
    return iis::open_website_logs(website);
  }
  process_ref running_website_master(const site_plan& website) override {
    return iis::running_website_master(website);
  }
  void write_front_conf(const site_plan& plan, const std::vector<pool_routes>& routes,
                        std::uint32_t generation) override {
    iis::write_front_conf(plan, routes, generation);
  }

  spawn_request nginx_request(const site_plan& plan, const std::string& instance,
                              int listener) override {
    return iis::nginx_request(plan, instance, listener);
  }
  app_launch app_request(const site_plan& plan, const app_runtime& app,
                         std::int32_t port) override {
    return iis::app_request(plan, app, port);
  }
  void record_app(const site_plan& plan, std::size_t app, const process_ref& process,
                  std::int32_t port) override {
    iis::record_app(plan, app, process, port);
  }
  void persist_pool_stopped(const site_plan& plan, std::size_t pool, bool stopped) override {
    iis::persist_pool_stopped(plan, pool, stopped);
  }
  bool pool_stopped_marked(const site_plan& plan, std::size_t pool) override {
    return iis::pool_stopped_marked(plan, pool);
  }
  void persist_front_serves(const site_plan& plan, std::size_t pool, bool serves) override {
    iis::persist_front_serves(plan, pool, serves);
  }
  bool front_serves_marked(const site_plan& plan, std::size_t pool) override {
    return iis::front_serves_marked(plan, pool);
  }
  process_ref running_pool_master(const site_plan& plan, std::size_t pool) override {
    return iis::running_pool_master(plan, pool);
  }
  std::optional<std::pair<process_ref, std::int32_t>> running_app(const site_plan& plan,
                                                                  std::size_t app) override {
    return iis::running_app(plan, app);
  }

  void try_open_outputs(const site_plan& plan, output_fds& fds) override {
    iis::try_open_outputs(plan, fds);
  }
  unique_fd hold_fifo_reader(const std::string& path) override {
    return iis::hold_fifo_reader(path);
  }
  void trim_log(const std::string& log_path) override { iis::trim_log(log_path); }
  std::string last_emergency(const std::string& log_path) override {
    return iis::last_emergency(log_path);
  }
  std::uint64_t oom_kills(const site_plan& plan, const std::string& instance) override {
    return instance_oom_kills(plan, instance);
  }
  std::string worker_exit_reason(const std::string& log_path, std::int32_t pid) override {
    return iis::worker_exit_reason(log_path, pid);
  }
  bool take_activity(const std::string& path) override { return iis::take_activity(path); }
  request_totals count_requests(const site_plan& plan) override {
    return iis::count_requests(plan.data_dir);
  }
  void read_open_requests(const site_plan& plan, const std::vector<process_ref>& front_masters,
                          open_requests& state) override {
    iis::read_open_requests(layout::open_requests_log(plan.data_dir), front_masters, state);
  }
  std::optional<connection_counts> front_connections(const site_plan& plan,
                                                     std::uint32_t generation) override {
    return read_stub_status(plan.data_dir, status_socket_name(plan.data_dir, generation));
  }

  std::vector<unique_fd> join_front_groups(const site_plan& plan) override {
    return iis::join_front_groups(plan);
  }
  std::vector<unique_fd> attach_front_steering(const std::vector<int>& members) override {
    return iis::attach_front_steering(members);
  }
  void steer_front_groups(const std::vector<int>& maps, const std::vector<int>& members) override {
    iis::steer_front_groups(maps, members);
  }
  std::size_t queued_front_connections(const std::vector<int>& members) override {
    return iis::queued_front_connections(members);
  }
  std::size_t handshaking_front_connections(const std::vector<int>& members) override {
    return iis::handshaking_connections(members);
  }
  spawn_request front_request(const site_plan& plan, std::uint32_t generation,
                              const std::vector<int>& members,
                              std::optional<std::size_t> served_pool) override {
    return iis::front_request(plan, generation, members, served_pool);
  }
  std::vector<front_generation> running_front_generations(const site_plan& plan) override {
    return iis::running_front_generations(plan);
  }
  std::vector<unique_fd> take_front_members(const site_plan& plan,
                                            const process_ref& master) override {
    return iis::take_front_members(plan, master);
  }

  std::optional<failure> check_bindable(const std::string& ip, std::int32_t port) override {
    return iis::check_bindable(ip, port);
  }
  std::int32_t pick_loopback_port() override { return iis::pick_loopback_port(); }
  unique_fd listen_unix(const std::string& dir, const std::string& bound_name,
                        const std::string& public_name, int backlog) override {
    return iis::listen_unix(dir, bound_name, public_name, backlog);
  }
  void remove_socket_file(const std::string& dir, const std::string& name) override {
    iis::remove_socket_file(dir, name);
  }
  unique_fd reserve_tcp_port(std::int32_t port) override { return iis::reserve_tcp_port(port); }
  std::size_t open_unix_connections(const std::vector<process_ref>& processes,
                                    const std::string& bound_name) override {
    return iis::open_unix_connections(processes, bound_name);
  }
  std::size_t open_tcp_connections(std::int32_t port) override {
    return iis::open_tcp_connections(port);
  }
  std::size_t queued_tcp_connections(std::int32_t port) override {
    return iis::queued_tcp_connections(port);
  }
  std::uint64_t queued_connections(const site_plan& plan, const std::string& name) override {
    return waiting_requests(plan.data_dir + "/" + name);
  }

  unique_fd hold_site_lock(const std::string& lock_path) override {
    return iis::hold_site_lock(lock_path);
  }
  std::optional<process_ref> recorded_keeper(const std::string& record_path) override {
    return iis::recorded_keeper(record_path);
  }
  std::optional<kept_socket> take_back_socket(const std::string& record_path) override {
    return iis::take_back_socket(record_path);
  }
  void stop_keeper(const std::string& record_path) override { iis::stop_keeper(record_path); }
};

}  // namespace nomad_iis::iis
