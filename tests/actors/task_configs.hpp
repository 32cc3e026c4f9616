#pragma once
// Task configs as Nomad sends them (cty msgpack) for StartTask in the actor
// tests. Only the keys given are written: the decoder reads an absent key
// as unset, as it does for older senders.

#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <msgpack.hpp>

namespace nomad_iis::test {

/// Nomad's encoding of the static sample app's config block (golden file).
inline std::string static_sample_config() {
  std::ifstream in(std::string(NOMAD_IIS_CONFIG_DATA_DIR) + "/task_static_sample.msgpack",
                   std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The static sample app (its application in local/, an http binding on
/// the port label "httplabel") with an application_pool block of these
/// string attributes. The default `identity` is NetworkService (www-data):
/// a test run as root makes no Unix user for it.
inline std::string sample_config(std::map<std::string, std::string> pool = {}) {
  pool.emplace("name", "default");
  pool.emplace("identity", "NetworkService");
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(&buffer);
  auto string_map = [&out](const std::map<std::string, std::string>& fields) {
    out.pack_map(static_cast<std::uint32_t>(fields.size()));
    for (const auto& [key, value] : fields) {
      out.pack(key);
      out.pack(value);
    }
  };
  out.pack_map(3);
  out.pack(std::string("application_pools"));
  out.pack_array(1);
  string_map(pool);
  out.pack(std::string("applications"));
  out.pack_array(1);
  string_map({{"path", "local"}});
  out.pack(std::string("bindings"));
  out.pack_array(1);
  string_map({{"type", "http"}, {"port", "httplabel"}});
  return {buffer.data(), buffer.size()};
}

/// The sample with its pool starting with the site.
inline std::string always_running_config() {
  return sample_config({{"start_mode", "AlwaysRunning"}});
}

}  // namespace nomad_iis::test
