#include "adapters/grpc/status.hpp"

#include "google/rpc/status.pb.h"
#include "messages/error.hpp"
#include "nomad/shared/structs.pb.h"

namespace nomad_iis::grpc_adapter {
namespace {

constexpr bool same(rpc_code ours, grpc::StatusCode theirs) {
  return static_cast<int>(ours) == static_cast<int>(theirs);
}
static_assert(same(rpc_code::invalid_argument, grpc::StatusCode::INVALID_ARGUMENT));
static_assert(same(rpc_code::deadline_exceeded, grpc::StatusCode::DEADLINE_EXCEEDED));
static_assert(same(rpc_code::not_found, grpc::StatusCode::NOT_FOUND));
static_assert(same(rpc_code::failed_precondition, grpc::StatusCode::FAILED_PRECONDITION));
static_assert(same(rpc_code::aborted, grpc::StatusCode::ABORTED));
static_assert(same(rpc_code::internal, grpc::StatusCode::INTERNAL));

}  // namespace

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
  const auto& route = route_of(err);
  const auto code = static_cast<grpc::StatusCode>(route.grpc);
  auto text = grpc_text(err);
  if (route.recoverable == retry::unsaid) return {code, text};
  return with_recoverable(code, text, route.recoverable == retry::yes);
}

}  // namespace nomad_iis::grpc_adapter
