#pragma once
// A transport-neutral description of the HCL schemas this plugin accepts.
// adapters/grpc turns it into Nomad's hclspec protobuf; tests and docs read it
// directly. Mirrors the hclspec kinds we use and nothing more.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nomad_iis::config {

struct spec;
using spec_ptr = std::shared_ptr<const spec>;

/// One node of a schema tree.
struct spec {
  enum class kind {
    object,      ///< attributes: name -> spec
    attr,        ///< name, type, required
    block,       ///< name, required, nested
    block_list,  ///< name, min_items, max_items, nested
    defaulted,   ///< primary (an attr with an explicit name), default_value (a literal)
    literal,     ///< value: an HCL expression such as "true" or "\"30s\""
  };
  kind what = kind::attr;
  std::string name;
  std::string type;  ///< HCL type expression for attr: "string", "bool", "number", "list(string)"
  bool required = false;
  std::uint64_t min_items = 0;
  std::uint64_t max_items = 0;                 ///< 0 = unbounded
  std::string value;                           ///< literal
  spec_ptr nested;                             ///< block, block_list; primary for defaulted
  spec_ptr default_value;                      ///< defaulted
  std::map<std::string, spec_ptr> attributes;  ///< object
};

/// Schema of the agent-side `plugin "nomad_iis" { config { ... } }` block.
spec_ptr driver_config_schema();

/// Schema of a job's `task { driver = "iis" config { ... } }` block.
spec_ptr task_config_schema();

}  // namespace nomad_iis::config
