#pragma once
// Actor errors -> gRPC statuses Nomad understands (PROTOCOL.md §9): never
// UNAVAILABLE for an ordinary error; retryable start failures carry a
// RecoverableError{recoverable: true} as the first status detail.

#include <string>

#include <grpcpp/support/status.h>
#include <caf/error.hpp>

namespace nomad_iis::grpc_adapter {

grpc::Status to_status(const caf::error& err);

/// A status whose first detail is RecoverableError{recoverable}.
grpc::Status with_recoverable(grpc::StatusCode code, const std::string& message, bool recoverable);

}  // namespace nomad_iis::grpc_adapter
