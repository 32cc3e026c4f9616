#include "adapters/grpc/schema_proto.hpp"

namespace nomad_iis::grpc_adapter {

namespace hclspec = hashicorp::nomad::plugins::shared::hclspec;

hclspec::Spec to_proto(const config::spec& spec) {
  hclspec::Spec out;
  switch (spec.what) {
    case config::spec::kind::object: {
      auto* obj = out.mutable_object();
      for (const auto& [name, child] : spec.attributes)
        if (child) (*obj->mutable_attributes())[name] = to_proto(*child);
      break;
    }
    case config::spec::kind::attr: {
      auto* attr = out.mutable_attr();
      attr->set_name(spec.name);
      attr->set_type(spec.type);
      attr->set_required(spec.required);
      break;
    }
    case config::spec::kind::block: {
      auto* block = out.mutable_block_value();
      block->set_name(spec.name);
      block->set_required(spec.required);
      if (spec.nested) *block->mutable_nested() = to_proto(*spec.nested);
      break;
    }
    case config::spec::kind::block_list: {
      auto* list = out.mutable_block_list();
      list->set_name(spec.name);
      list->set_min_items(spec.min_items);
      list->set_max_items(spec.max_items);
      if (spec.nested) *list->mutable_nested() = to_proto(*spec.nested);
      break;
    }
    case config::spec::kind::defaulted: {
      auto* def = out.mutable_default_();
      if (spec.nested) *def->mutable_primary() = to_proto(*spec.nested);
      if (spec.default_value) *def->mutable_default_() = to_proto(*spec.default_value);
      break;
    }
    case config::spec::kind::literal:
      out.mutable_literal()->set_value(spec.value);
      break;
  }
  return out;
}

}  // namespace nomad_iis::grpc_adapter
