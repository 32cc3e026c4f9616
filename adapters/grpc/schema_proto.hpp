#pragma once
// config::spec (our schema tree) -> Nomad's hclspec protobuf.

#include "config/schema.hpp"
#include "nomad/shared/hclspec.pb.h"

namespace nomad_iis::grpc_adapter {

hashicorp::nomad::plugins::shared::hclspec::Spec to_proto(const config::spec& spec);

}  // namespace nomad_iis::grpc_adapter
