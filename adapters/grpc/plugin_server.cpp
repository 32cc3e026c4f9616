#include "adapters/grpc/plugin_server.hpp"

#include <unistd.h>

#include <sys/stat.h>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>

#include "adapters/grpc/base_service.hpp"
#include "adapters/grpc/driver_service.hpp"
#include "adapters/grpc/goplugin_services.hpp"
#include "adapters/metrics/metrics.hpp"

namespace nomad_iis::grpc_adapter {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

/// Counts every call by method in the metrics as it begins; adds no
/// interceptor to the call (nullptr), so the call itself is untouched.
class call_counter final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    metrics::count_grpc_call(info->method());
    return nullptr;
  }
};

/// A socket path nobody uses yet, in the folder go-plugin would pick.
std::string fresh_socket_path() {
  auto dir = env_or("PLUGIN_UNIX_SOCKET_DIR", env_or("TMPDIR", "/tmp"));
  std::random_device rd;
  std::mt19937_64 gen(rd());
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::ostringstream name;
    name << dir << "/plugin-nomad_iis-" << ::getpid() << "-" << std::hex << gen();
    struct stat st {};
    if (::lstat(name.str().c_str(), &st) != 0) return name.str();
  }
  throw std::runtime_error("cannot find a free unix socket name in " + dir);
}

}  // namespace

std::optional<std::string> check_environment() {
  const char* cookie = std::getenv(magic_cookie_key);
  if (!cookie || std::string(cookie) != magic_cookie_value)
    return std::string(
        "This binary is a Nomad task driver plugin (driver \"iis\"). It is not meant to be run "
        "by hand: put it into the Nomad client's plugin_dir and configure it with a "
        "plugin \"nomad_iis\" { ... } block; Nomad starts it.");
  auto versions = env_or("PLUGIN_PROTOCOL_VERSIONS", std::to_string(app_protocol_version));
  std::stringstream list(versions);
  for (std::string item; std::getline(list, item, ',');) {
    if (item == std::to_string(app_protocol_version)) return std::nullopt;
  }
  return "this plugin speaks protocol version " + std::to_string(app_protocol_version) +
         " but the host offers only " + versions;
}

std::string handshake_line(const std::string& socket_path) {
  return "1|" + std::to_string(app_protocol_version) + "|unix|" + socket_path + "|grpc|";
}

struct plugin_server::services {
  base_service base;
  driver_service driver;
  controller_service controller;
  broker_service broker;
  stdio_service stdio;
};

plugin_server::plugin_server(caf::actor_system& sys, driver_actors actors, server_hooks hooks)
    : sys_(sys), actors_(std::move(actors)), hooks_(std::move(hooks)) {}

plugin_server::~plugin_server() = default;

void plugin_server::start() {
  services_.reset(new services{
      base_service(actors_.supervisor, hooks_.on_config), driver_service(sys_, actors_),
      controller_service(hooks_.request_exit), broker_service(), stdio_service()});
  socket_path_ = fresh_socket_path();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort("unix:" + socket_path_, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&services_->base);
  builder.RegisterService(&services_->driver);
  builder.RegisterService(&services_->controller);
  builder.RegisterService(&services_->broker);
  builder.RegisterService(&services_->stdio);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counters;
  counters.push_back(std::make_unique<call_counter>());
  builder.experimental().SetInterceptorCreators(std::move(counters));
  server_ = builder.BuildAndStart();
  if (!server_) throw std::runtime_error("cannot serve gRPC on unix socket " + socket_path_);
  server_->GetHealthCheckService()->SetServingStatus("plugin", true);
  server_->GetHealthCheckService()->SetServingStatus("", true);
}

void plugin_server::stop(std::chrono::milliseconds grace) {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + grace);
    server_.reset();
  }
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
}

}  // namespace nomad_iis::grpc_adapter
