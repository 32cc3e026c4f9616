// make_linux_launcher(): the launcher port on Linux.

#include "iis/launcher.hpp"
#include "iis/linux_exec.hpp"
#include "iis/net_probe.hpp"
#include "iis/proc_stats.hpp"
#include "iis/process_monitor.hpp"
#include "iis/socket_keeper.hpp"

namespace nomad_iis::iis {
namespace {

class linux_launcher final : public launcher {
 public:
  process_ref spawn(const spawn_request& request) override { return spawn_process(request); }

  std::shared_ptr<exec_process> start_exec(const exec_request& request) override {
    return start_exec_process(request, monitor_);
  }

  process_ref start_keeper(int fd, const keeper_spec& spec) override {
    const auto keeper = iis::start_keeper(fd, spec);
    monitor_->watch(keeper, [](exit_status) {});  // reaps it once stopped
    return keeper;
  }

  bool signal(const process_ref& process, int signal) override {
    return send_signal(process, signal);
  }
  bool alive(const process_ref& process) override { return is_alive(process); }
  std::vector<process_ref> children(const process_ref& parent) override {
    return children_of(parent);
  }
  std::vector<process_ref> group_members(const process_ref& leader,
                                         const std::string& cwd) override {
    return iis::group_members(leader.pid, cwd);
  }
  bool shutting_down(const process_ref& worker) override {
    return command_line(worker.pid).find("shutting down") != std::string::npos;
  }
  std::optional<process_usage> usage(const process_ref& process) override {
    return read_usage(process);
  }
  std::optional<std::uint64_t> private_bytes(const process_ref& process) override {
    return read_private_bytes(process);
  }

  bool accepts_tcp(const std::string& ip, std::int32_t port) override {
    return iis::accepts_tcp(ip, port);
  }
  bool accepts_unix(const std::string& dir, const std::string& name) override {
    return iis::accepts_unix(dir, name);
  }

  std::uint64_t watch_exit(const process_ref& process,
                           std::function<void(exit_status)> on_exit) override {
    return monitor_->watch(process, std::move(on_exit));
  }
  std::uint64_t watch_readable(int fd, std::function<void()> on_ready) override {
    return monitor_->watch_readable(fd, std::move(on_ready));
  }
  void unwatch(std::uint64_t id) override { monitor_->unwatch(id); }

 private:
  /// Shared with the exec'd commands, which watch their pipes in it.
  std::shared_ptr<process_monitor> monitor_ = std::make_shared<process_monitor>();
};

}  // namespace

std::shared_ptr<launcher> make_linux_launcher() {
  return std::make_shared<linux_launcher>();
}

}  // namespace nomad_iis::iis
