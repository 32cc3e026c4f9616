#pragma once
// Nomad's BasePlugin service: who we are, our config schema, and SetConfig.

#include <functional>

#include <caf/actor.hpp>

#include "config/driver_config.hpp"
#include "nomad/base/base.grpc.pb.h"

namespace nomad_iis::grpc_adapter {

namespace base = hashicorp::nomad::plugins::base::proto;

class base_service final : public base::BasePlugin::CallbackService {
 public:
  /// `on_config` runs for every valid SetConfig (long_lived = nomad_config present).
  base_service(caf::actor supervisor,
               std::function<void(const config::driver_config&, bool long_lived)> on_config);

  grpc::ServerUnaryReactor* PluginInfo(grpc::CallbackServerContext* ctx,
                                       const base::PluginInfoRequest* request,
                                       base::PluginInfoResponse* response) override;
  grpc::ServerUnaryReactor* ConfigSchema(grpc::CallbackServerContext* ctx,
                                         const base::ConfigSchemaRequest* request,
                                         base::ConfigSchemaResponse* response) override;
  grpc::ServerUnaryReactor* SetConfig(grpc::CallbackServerContext* ctx,
                                      const base::SetConfigRequest* request,
                                      base::SetConfigResponse* response) override;

 private:
  caf::actor supervisor_;
  std::function<void(const config::driver_config&, bool)> on_config_;
};

}  // namespace nomad_iis::grpc_adapter
