#pragma once
// Actor errors -> gRPC statuses Nomad understands (PROTOCOL.md §9), as the
// error table (messages/error.hpp) says: never UNAVAILABLE for an ordinary
// error; a failed start carries RecoverableError{recoverable} as the first
// status detail, true when a retry may succeed.

#include <string>

#include <grpcpp/support/status.h>
#include <caf/error.hpp>

namespace nomad_iis::grpc_adapter {

grpc::Status to_status(const caf::error& err);

/// A status whose first detail is RecoverableError{recoverable}.
grpc::Status with_recoverable(grpc::StatusCode code, const std::string& message, bool recoverable);

}  // namespace nomad_iis::grpc_adapter
