#pragma once
// go-plugin's own services: controller (shutdown), broker and stdio. Nomad
// drivers use neither broker nor stdio, but hosts open both on connect, so
// each stream stays open until the host cancels it.

#include <functional>

#include "goplugin/broker.grpc.pb.h"
#include "goplugin/controller.grpc.pb.h"
#include "goplugin/stdio.grpc.pb.h"

namespace nomad_iis::grpc_adapter {

class controller_service final : public plugin::GRPCController::CallbackService {
 public:
  /// `request_exit` must return at once; the process exits shortly after.
  explicit controller_service(std::function<void()> request_exit)
      : request_exit_(std::move(request_exit)) {}

  grpc::ServerUnaryReactor* Shutdown(grpc::CallbackServerContext* ctx, const plugin::Empty* request,
                                     plugin::Empty* response) override;

 private:
  std::function<void()> request_exit_;
};

class broker_service final : public plugin::GRPCBroker::CallbackService {
 public:
  grpc::ServerBidiReactor<plugin::ConnInfo, plugin::ConnInfo>* StartStream(
      grpc::CallbackServerContext* ctx) override;
};

class stdio_service final : public plugin::GRPCStdio::CallbackService {
 public:
  grpc::ServerWriteReactor<plugin::StdioData>* StreamStdio(
      grpc::CallbackServerContext* ctx, const google::protobuf::Empty* request) override;
};

}  // namespace nomad_iis::grpc_adapter
