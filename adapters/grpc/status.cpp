#include "adapters/grpc/status.hpp"

#include <caf/sec.hpp>

#include "google/rpc/status.pb.h"
#include "messages/error.hpp"
#include "nomad/shared/structs.pb.h"

namespace nomad_iis::grpc_adapter {

grpc::Status with_recoverable(grpc::StatusCode code, const std::string& message, bool recoverable) {
  hashicorp::nomad::plugins::shared::structs::RecoverableError detail;
  detail.set_recoverable(recoverable);
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  rich.add_details()->PackFrom(detail);
  return grpc::Status(code, message, rich.SerializeAsString());
}

grpc::Status to_status(const caf::error& err) {
  if (err.category() != caf::atom("nomad_iis")) {
    if (err == caf::sec::request_timeout)
      return {grpc::StatusCode::DEADLINE_EXCEEDED, "the driver did not answer in time"};
    return {grpc::StatusCode::INTERNAL, caf::to_string(err)};
  }
  auto text = message_of(err);
  switch (code_of(err)) {
    case ec::task_not_found:
      return {grpc::StatusCode::NOT_FOUND, text};
    case ec::invalid_config:
      return with_recoverable(grpc::StatusCode::INVALID_ARGUMENT, text, false);
    case ec::start_failed:
      return with_recoverable(grpc::StatusCode::FAILED_PRECONDITION, text, true);
    case ec::recover_failed:
    case ec::task_running:
      return {grpc::StatusCode::FAILED_PRECONDITION, text};
    case ec::unsupported:
    case ec::invalid_argument:
      return {grpc::StatusCode::INVALID_ARGUMENT, text};
    case ec::shutting_down:
      return {grpc::StatusCode::ABORTED, text};
    default:
      return {grpc::StatusCode::INTERNAL, text};
  }
}

}  // namespace nomad_iis::grpc_adapter
