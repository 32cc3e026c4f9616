#pragma once
// What Nomad's driver client reads from a failed StartTask
// (plugins/drivers/client.go): the first google.rpc.Status detail, when it
// is a RecoverableError.

#include <optional>
#include <stdexcept>

#include <grpcpp/support/status.h>

#include "google/rpc/status.pb.h"
#include "nomad/shared/structs.pb.h"

namespace nomad_iis::test {

/// The detail's `recoverable`; nullopt without one (Nomad: not recoverable).
inline std::optional<bool> recoverable_of(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details()))
    throw std::runtime_error("error_details is not a google.rpc.Status");
  if (rich.code() != static_cast<int>(status.error_code()) ||
      rich.message() != status.error_message())
    throw std::runtime_error("the rich status disagrees with the status");
  if (rich.details_size() == 0) return std::nullopt;
  hashicorp::nomad::plugins::shared::structs::RecoverableError detail;
  if (!rich.details(0).UnpackTo(&detail)) return std::nullopt;
  return detail.recoverable();
}

}  // namespace nomad_iis::test
