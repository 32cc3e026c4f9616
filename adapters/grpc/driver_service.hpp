#pragma once
// Nomad's Driver service. Every call becomes a message to the actors; no
// gRPC thread ever waits (WaitTask may stay open for days, the three
// streams for the plugin's lifetime).

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/supervisor.hpp"
#include "nomad/drivers/driver.grpc.pb.h"

namespace nomad_iis::grpc_adapter {

namespace drivers = hashicorp::nomad::plugins::drivers::proto;

class driver_service final : public drivers::Driver::CallbackService {
 public:
  driver_service(caf::actor_system& sys, driver_actors actors);

  grpc::ServerUnaryReactor* TaskConfigSchema(grpc::CallbackServerContext* ctx,
                                             const drivers::TaskConfigSchemaRequest* request,
                                             drivers::TaskConfigSchemaResponse* response) override;
  grpc::ServerUnaryReactor* Capabilities(grpc::CallbackServerContext* ctx,
                                         const drivers::CapabilitiesRequest* request,
                                         drivers::CapabilitiesResponse* response) override;
  grpc::ServerWriteReactor<drivers::FingerprintResponse>* Fingerprint(
      grpc::CallbackServerContext* ctx, const drivers::FingerprintRequest* request) override;
  grpc::ServerUnaryReactor* RecoverTask(grpc::CallbackServerContext* ctx,
                                        const drivers::RecoverTaskRequest* request,
                                        drivers::RecoverTaskResponse* response) override;
  grpc::ServerUnaryReactor* StartTask(grpc::CallbackServerContext* ctx,
                                      const drivers::StartTaskRequest* request,
                                      drivers::StartTaskResponse* response) override;
  grpc::ServerUnaryReactor* WaitTask(grpc::CallbackServerContext* ctx,
                                     const drivers::WaitTaskRequest* request,
                                     drivers::WaitTaskResponse* response) override;
  grpc::ServerUnaryReactor* StopTask(grpc::CallbackServerContext* ctx,
                                     const drivers::StopTaskRequest* request,
                                     drivers::StopTaskResponse* response) override;
  grpc::ServerUnaryReactor* DestroyTask(grpc::CallbackServerContext* ctx,
                                        const drivers::DestroyTaskRequest* request,
                                        drivers::DestroyTaskResponse* response) override;
  grpc::ServerUnaryReactor* InspectTask(grpc::CallbackServerContext* ctx,
                                        const drivers::InspectTaskRequest* request,
                                        drivers::InspectTaskResponse* response) override;
  grpc::ServerWriteReactor<drivers::TaskStatsResponse>* TaskStats(
      grpc::CallbackServerContext* ctx, const drivers::TaskStatsRequest* request) override;
  grpc::ServerWriteReactor<drivers::DriverTaskEvent>* TaskEvents(
      grpc::CallbackServerContext* ctx, const drivers::TaskEventsRequest* request) override;
  grpc::ServerUnaryReactor* SignalTask(grpc::CallbackServerContext* ctx,
                                       const drivers::SignalTaskRequest* request,
                                       drivers::SignalTaskResponse* response) override;
  grpc::ServerUnaryReactor* ExecTask(grpc::CallbackServerContext* ctx,
                                     const drivers::ExecTaskRequest* request,
                                     drivers::ExecTaskResponse* response) override;
  grpc::ServerBidiReactor<drivers::ExecTaskStreamingRequest, drivers::ExecTaskStreamingResponse>*
  ExecTaskStreaming(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* Init(grpc::CallbackServerContext* ctx,
                                 const drivers::InitRequest* request,
                                 drivers::InitResponse* response) override;
  grpc::ServerUnaryReactor* Shutdown(grpc::CallbackServerContext* ctx,
                                     const drivers::ShutdownRequest* request,
                                     drivers::ShutdownResponse* response) override;

 private:
  caf::actor_system& sys_;
  driver_actors actors_;
};

}  // namespace nomad_iis::grpc_adapter
