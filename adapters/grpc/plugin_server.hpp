#pragma once
// The go-plugin side of the process: environment checks, the gRPC server on
// a unix socket, and the handshake line Nomad reads from stdout.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/supervisor.hpp"
#include "config/driver_config.hpp"

namespace grpc {
class Server;
}

namespace nomad_iis::grpc_adapter {

/// go-plugin's guard against running a plugin by hand.
inline constexpr const char* magic_cookie_key = "NOMAD_PLUGIN_MAGIC_COOKIE";
inline constexpr const char* magic_cookie_value =
    "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255";
/// Nomad's plugin protocol version (its handshake "app" version).
inline constexpr int app_protocol_version = 2;

/// Why this process must not serve (no cookie, no common protocol version), or nullopt.
std::optional<std::string> check_environment();

/// "1|2|unix|/tmp/plugin...|grpc|"
std::string handshake_line(const std::string& socket_path);

struct server_hooks {
  /// Every valid SetConfig; long_lived = sent with nomad_config.
  std::function<void(const config::driver_config&, bool long_lived)> on_config;
  /// GRPCController/Shutdown: must return at once.
  std::function<void()> request_exit;
};

class plugin_server {
 public:
  plugin_server(caf::actor_system& sys, driver_actors actors, server_hooks hooks);
  ~plugin_server();

  /// Binds a fresh unix socket and starts serving. Throws std::runtime_error.
  void start();
  const std::string& socket_path() const { return socket_path_; }

  /// Stops serving (open calls are cancelled, never answered with a result)
  /// within `grace`, and removes the socket.
  void stop(std::chrono::milliseconds grace);

 private:
  struct services;
  caf::actor_system& sys_;
  driver_actors actors_;
  server_hooks hooks_;
  std::unique_ptr<services> services_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
};

}  // namespace nomad_iis::grpc_adapter
