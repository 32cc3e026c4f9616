#include "adapters/grpc/goplugin_services.hpp"

namespace nomad_iis::grpc_adapter {
namespace {

/// Reads and ignores whatever the host sends until it cancels or closes.
class idle_broker_stream final
    : public grpc::ServerBidiReactor<plugin::ConnInfo, plugin::ConnInfo> {
 public:
  idle_broker_stream() { StartRead(&incoming_); }
  void OnReadDone(bool ok) override {
    if (ok) {
      StartRead(&incoming_);
      return;
    }
    Finish(grpc::Status::OK);
  }
  void OnCancel() override {}
  void OnDone() override { delete this; }

 private:
  plugin::ConnInfo incoming_;
};

/// Sends nothing; ends only when the host cancels.
class idle_stdio_stream final : public grpc::ServerWriteReactor<plugin::StdioData> {
 public:
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* controller_service::Shutdown(grpc::CallbackServerContext* ctx,
                                                       const plugin::Empty*, plugin::Empty*) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  if (request_exit_) request_exit_();
  return reactor;
}

grpc::ServerBidiReactor<plugin::ConnInfo, plugin::ConnInfo>* broker_service::StartStream(
    grpc::CallbackServerContext*) {
  return new idle_broker_stream();
}

grpc::ServerWriteReactor<plugin::StdioData>* stdio_service::StreamStdio(
    grpc::CallbackServerContext*, const google::protobuf::Empty*) {
  return new idle_stdio_stream();
}

}  // namespace nomad_iis::grpc_adapter
