#include "adapters/grpc/base_service.hpp"

#include <caf/send.hpp>

#include "adapters/grpc/schema_proto.hpp"
#include "adapters/grpc/status.hpp"
#include "adapters/grpc/unary_call.hpp"
#include "common/logging.hpp"
#include "config/error.hpp"
#include "config/schema.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::grpc_adapter {

base_service::base_service(caf::actor supervisor,
                           std::function<void(const config::driver_config&, bool)> on_config)
    : supervisor_(std::move(supervisor)), on_config_(std::move(on_config)) {}

grpc::ServerUnaryReactor* base_service::PluginInfo(grpc::CallbackServerContext* ctx,
                                                   const base::PluginInfoRequest*,
                                                   base::PluginInfoResponse* response) {
  response->set_type(base::DRIVER);
  response->add_plugin_api_versions("0.1.0");
  response->set_plugin_version(NOMAD_IIS_VERSION);
  response->set_name("iis");
  return finish_now(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* base_service::ConfigSchema(grpc::CallbackServerContext* ctx,
                                                     const base::ConfigSchemaRequest*,
                                                     base::ConfigSchemaResponse* response) {
  *response->mutable_spec() = to_proto(*config::driver_config_schema());
  return finish_now(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* base_service::SetConfig(grpc::CallbackServerContext* ctx,
                                                  const base::SetConfigRequest* request,
                                                  base::SetConfigResponse*) {
  static auto log = logging::get("config");
  config::driver_config driver;
  try {
    driver = config::decode_driver_config(request->msgpack_config());
  } catch (const config::config_error& e) {
    logging::log(*log, spdlog::level::err, "invalid plugin config", {{"error", e.what()}});
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                            std::string("invalid iis plugin config: ") + e.what()});
  } catch (const std::exception& e) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                            std::string("invalid iis plugin config: ") + e.what()});
  }
  bool long_lived = request->has_nomad_config() && request->nomad_config().has_driver();
  caf::anon_send(supervisor_, msg::set_driver_config{driver, long_lived});
  if (on_config_) on_config_(driver, long_lived);
  logging::log(*log, spdlog::level::debug, "plugin config applied",
               {{"long_lived", long_lived ? "true" : "false"}});
  return finish_now(ctx, grpc::Status::OK);
}

}  // namespace nomad_iis::grpc_adapter
