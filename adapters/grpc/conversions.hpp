#pragma once
// Between Nomad's protobuf messages and the actors' message types.

#include "messages/messages.hpp"
#include "nomad/drivers/driver.pb.h"

namespace nomad_iis::grpc_adapter {

namespace drivers = hashicorp::nomad::plugins::drivers::proto;

/// TaskConfig without the job's config block (that travels as raw msgpack).
iis::task_context to_context(const drivers::TaskConfig& config);

void fill(drivers::TaskStatus* out, const msg::task_status& status);
void fill(drivers::TaskStats* out, const msg::task_stats& stats);
void fill(drivers::ExitResult* out, const msg::exit_result& result);
drivers::FingerprintResponse to_proto(const msg::fingerprint& fp);
drivers::DriverTaskEvent to_proto(const msg::task_event& event);

}  // namespace nomad_iis::grpc_adapter
