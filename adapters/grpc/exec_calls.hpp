#pragma once
// `nomad alloc exec` and script checks: ExecTaskStreaming (one small
// bidirectional reactor per session, in gRPC's route_guide style) and the
// unary ExecTask. Each call has a bridge actor that opens the command
// through the supervisor (messages/exec.hpp) and relays its bytes; when the
// call ends the bridge stops, and the session it opened kills the command.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "nomad/drivers/driver.grpc.pb.h"

namespace nomad_iis::grpc_adapter {

namespace drivers = hashicorp::nomad::plugins::drivers::proto;

grpc::ServerBidiReactor<drivers::ExecTaskStreamingRequest, drivers::ExecTaskStreamingResponse>*
exec_streaming(caf::actor_system& sys, const caf::actor& supervisor);

grpc::ServerUnaryReactor* exec_unary(caf::actor_system& sys, const caf::actor& supervisor,
                                     const drivers::ExecTaskRequest& request,
                                     drivers::ExecTaskResponse* response);

}  // namespace nomad_iis::grpc_adapter
