// nomad_iis: the Nomad task driver plugin process. Wires the actors, the
// Linux backend and the gRPC (and, when enabled, HTTP) adapters together.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/supervisor.hpp"
#include "actors/timeouts.hpp"
#include "adapters/inspector.hpp"
#include "adapters/grpc/plugin_server.hpp"
#include "adapters/http/api.hpp"
#include "adapters/plugin_options.hpp"
#include "common/logging.hpp"
#include "common/system_info.hpp"
#include "iis/linux_backend.hpp"
#include "messages/type_ids.hpp"

namespace {

/// Written by the SIGTERM handler and by GRPCController/Shutdown; the main
/// thread waits on the read end.
int exit_pipe[2] = {-1, -1};

void on_terminate(int) {
  char c = 't';
  [[maybe_unused]] auto n = ::write(exit_pipe[1], &c, 1);
}

void request_exit() {
  char c = 's';
  [[maybe_unused]] auto n = ::write(exit_pipe[1], &c, 1);
}

void install_signal_handling() {
  if (::pipe2(exit_pipe, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    std::_Exit(1);
  }
  // Nomad does not put the plugin in its own process group: a Ctrl-C at the
  // agent's terminal must not kill it. A closed stderr must not either.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_terminate;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
}

void wait_for_exit_request() {
  char c = 0;
  while (::read(exit_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
}

/// Lets every site start its idle pools before we exit: until a recovery
/// nobody answers their activation sockets. Bounded by timeouts::hand_over.
void hand_over_sites(caf::actor_system& sys, const caf::actor& supervisor, spdlog::logger& log) {
  caf::scoped_actor self{sys};
  const auto began = std::chrono::steady_clock::now();
  self->request(supervisor, nomad_iis::timeouts::hand_over + std::chrono::milliseconds(100),
                nomad_iis::atom::hand_over_v)
      .receive(
          [&] {
            const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - began);
            nomad_iis::logging::log(log, spdlog::level::debug, "sites handed over",
                                    {{"elapsed_ms", std::to_string(took.count())}});
          },
          [&](caf::error& error) {
            nomad_iis::logging::log(log, spdlog::level::warn,
                                    "not every site started its idle pools before exit",
                                    {{"error", caf::to_string(error)}});
          });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nomad_iis;
  if (auto problem = grpc_adapter::check_environment()) {
    std::cerr << *problem << std::endl;
    return 1;
  }
  install_signal_handling();

  plugin_options options;
  try {
    options = parse_plugin_options({argv + 1, argv + argc}, [](const char* name) {
      const char* value = std::getenv(name);
      return value ? std::optional<std::string>(value) : std::nullopt;
    });
  } catch (const std::exception& e) {
    logging::init("info");
    logging::log(*spdlog::default_logger(), spdlog::level::err,
                 std::string("invalid plugin arguments: ") + e.what());
    return 1;
  }
  // Before any thread or child exists: /proc/<pid>/cmdline is world-readable,
  // and what we spawn (browsers, dumps) must not inherit the secrets.
  wipe_secret_arguments(argc, argv);
  ::unsetenv(api_key_variable);
  ::unsetenv(jwt_secret_variable);
  logging::add_secret(options.management_api_key);
  logging::add_secret(options.management_api_jwt_secret);
  logging::init(options.log_level);
  auto log = logging::get("plugin");
  for (const auto& arg : options.ignored)
    logging::log(*log, spdlog::level::warn, "argument has no meaning on Linux and is ignored",
                 {{"argument", arg}});
  for (const auto& arg : options.unsafe_secret_arguments)
    logging::log(*log, spdlog::level::warn,
                 "a secret given as a plugin argument is unsafe: every local user can read "
                 "it in /proc until the plugin wipes it at start-up; use " +
                     arg + "-file=FILE or the NOMAD_IIS_MANAGEMENT_API_* environment variable",
                 {{"argument", arg}});

  if (::geteuid() == 0) {
    for (const auto& problem : system_info::missing_kernel_protections())
      logging::log(*log, spdlog::level::warn, "kernel protection off: " + problem);
  }

  caf::actor_system_config cfg;
  configure_actor_system(cfg);
  // CAF's own logger and console output stay off: stdout belongs to go-plugin.
  cfg.set("logger.verbosity", caf::atom("quiet"));
  cfg.set("logger.console", caf::atom("none"));
  // One scheduler thread per core (CAF's default is at least four): idle
  // workers poll, and on a small node the extra ones take CPU from nginx
  // and the HTTP threads.
  cfg.set("scheduler.max-threads",
          static_cast<std::size_t>(std::max(2u, std::thread::hardware_concurrency())));
  auto* sys = new caf::actor_system(cfg);  // never destroyed: tasks' actors live until _exit

  // The composition root: the only place that picks the backend behind the port.
  std::shared_ptr<iis::backend> backend = iis::make_linux_backend();
  auto actors = spawn_driver(*sys, backend, true, make_inspector());

  grpc_adapter::server_hooks hooks;
  hooks.request_exit = request_exit;
  // The Management API exists only in the long-lived instance (after a
  // SetConfig that carries nomad_config); it binds in the background.
  std::shared_ptr<http::management_api> management_api;
  if (options.management_api_enabled())
    management_api =
        std::make_shared<http::management_api>(*sys, actors.supervisor, actors.fingerprinter,
                                               actors.statuses, options);
  hooks.on_config = [management_api](const config::driver_config& driver, bool long_lived) {
    if (!long_lived || !management_api) return;
    management_api->configure(driver);
  };

  grpc_adapter::plugin_server server(*sys, actors, hooks);
  try {
    server.start();
  } catch (const std::exception& e) {
    logging::log(*log, spdlog::level::err, "cannot start the plugin server", {{"error", e.what()}});
    return 1;
  }
  // The handshake is the first and only line on stdout, written once we listen.
  std::cout << grpc_adapter::handshake_line(server.socket_path()) << std::endl;
  logging::log(*log, spdlog::level::info, "plugin serving",
               {{"socket", server.socket_path()}, {"version", NOMAD_IIS_VERSION}});

  wait_for_exit_request();
  logging::log(*log, spdlog::level::info, "plugin exiting; running tasks keep running");
  hand_over_sites(*sys, actors.supervisor, *log);
  // Open WaitTask calls end with a transport error, never with an exit result.
  server.stop(std::chrono::milliseconds(800));
  spdlog::default_logger()->flush();
  std::_Exit(0);
}
