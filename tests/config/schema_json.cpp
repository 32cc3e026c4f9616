// Prints one of our config schemas as the protobuf JSON of Nomad's
// hclspec.Spec, the form `plugin-host encode --spec` reads. A dev tool for
// scripts/regen-golden.sh; nothing at test run time needs it.
//
//   schema_json task|driver

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdio>
#include <cstring>

#include "config/schema.hpp"

namespace {

using nomad_iis::config::spec;
using writer_type = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void write_spec(writer_type& out, const spec& node);

void write_name(writer_type& out, const spec& node) {
  if (node.name.empty()) return;
  out.Key("name");
  out.String(node.name.c_str());
}

void write_body(writer_type& out, const spec& node) {
  switch (node.what) {
    case spec::kind::object:
      out.Key("attributes");
      out.StartObject();
      for (const auto& [key, child] : node.attributes) {
        out.Key(key.c_str());
        write_spec(out, *child);
      }
      out.EndObject();
      break;
    case spec::kind::attr:
      write_name(out, node);
      out.Key("type");
      out.String(node.type.c_str());
      if (node.required) {
        out.Key("required");
        out.Bool(true);
      }
      break;
    case spec::kind::block:
      write_name(out, node);
      if (node.required) {
        out.Key("required");
        out.Bool(true);
      }
      out.Key("nested");
      write_spec(out, *node.nested);
      break;
    case spec::kind::block_list:
      write_name(out, node);
      if (node.min_items) {
        out.Key("min_items");
        out.Uint64(node.min_items);
      }
      if (node.max_items) {
        out.Key("max_items");
        out.Uint64(node.max_items);
      }
      out.Key("nested");
      write_spec(out, *node.nested);
      break;
    case spec::kind::defaulted:
      out.Key("primary");
      write_spec(out, *node.nested);
      out.Key("default");
      write_spec(out, *node.default_value);
      break;
    case spec::kind::literal:
      out.Key("value");
      out.String(node.value.c_str());
      break;
  }
}

/// The oneof member name hclspec.Spec uses for each kind.
const char* member_name(spec::kind what) {
  switch (what) {
    case spec::kind::object:
      return "object";
    case spec::kind::attr:
      return "Attr";
    case spec::kind::block:
      return "block_value";
    case spec::kind::block_list:
      return "block_list";
    case spec::kind::defaulted:
      return "default";
    case spec::kind::literal:
      return "literal";
  }
  return "";
}

void write_spec(writer_type& out, const spec& node) {
  out.StartObject();
  out.Key(member_name(node.what));
  out.StartObject();
  write_body(out, node);
  out.EndObject();
  out.EndObject();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "task") != 0 && std::strcmp(argv[1], "driver") != 0)) {
    std::fprintf(stderr, "usage: %s task|driver\n", argv[0]);
    return 2;
  }
  const auto schema = std::strcmp(argv[1], "task") == 0 ? nomad_iis::config::task_config_schema()
                                                        : nomad_iis::config::driver_config_schema();
  rapidjson::StringBuffer buffer;
  writer_type out(buffer);
  out.SetIndent(' ', 2);
  write_spec(out, *schema);
  std::printf("%s\n", buffer.GetString());
  return 0;
}
