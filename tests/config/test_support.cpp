#include "test_support.hpp"

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <msgpack.hpp>
#include <sstream>
#include <stdexcept>

namespace config_test {
namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

void pack_into(packer& out, msgpack::sbuffer& buffer, const node& n) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          out.pack_nil();
        } else if constexpr (std::is_same_v<T, bool>) {
          v ? out.pack_true() : out.pack_false();
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          out.pack_uint64(v);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out.pack_int64(v);
        } else if constexpr (std::is_same_v<T, double>) {
          out.pack_double(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out.pack_str(static_cast<std::uint32_t>(v.size()));
          out.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
        } else if constexpr (std::is_same_v<T, node_list>) {
          out.pack_array(static_cast<std::uint32_t>(v.size()));
          for (const node& item : v) pack_into(out, buffer, item);
        } else if constexpr (std::is_same_v<T, node_map>) {
          out.pack_map(static_cast<std::uint32_t>(v.size()));
          for (const auto& [key, item] : v) {
            out.pack_str(static_cast<std::uint32_t>(key.size()));
            out.pack_str_body(key.data(), static_cast<std::uint32_t>(key.size()));
            pack_into(out, buffer, item);
          }
        } else {
          buffer.write(v.bytes.data(), v.bytes.size());
        }
      },
      n.value);
}

template <typename F>
raw_bytes with_packer(F f) {
  msgpack::sbuffer buffer;
  packer out(buffer);
  f(out);
  return raw_bytes{std::string(buffer.data(), buffer.size())};
}

raw_bytes str_with_header(unsigned char marker, std::size_t length_bytes, const std::string& s) {
  std::string bytes(1, static_cast<char>(marker));
  for (std::size_t i = length_bytes; i-- > 0;) {
    bytes += static_cast<char>((s.size() >> (8 * i)) & 0xFF);
  }
  return raw_bytes{bytes + s};
}

}  // namespace

node& node::operator[](const std::string& key) {
  auto& entries = std::get<node_map>(value);
  for (auto& [k, v] : entries) {
    if (k == key) return v;
  }
  entries.emplace_back(key, node());
  return entries.back().second;
}

node& node::operator[](std::size_t index) {
  return std::get<node_list>(value).at(index);
}

void node::erase(const std::string& key) {
  auto& entries = std::get<node_map>(value);
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->first == key) {
      entries.erase(it);
      return;
    }
  }
}

std::string pack(const node& root) {
  msgpack::sbuffer buffer;
  packer out(buffer);
  pack_into(out, buffer, root);
  return std::string(buffer.data(), buffer.size());
}

raw_bytes fix_uint8(std::uint8_t v) {
  return with_packer([&](packer& p) { p.pack_fix_uint8(v); });
}
raw_bytes fix_uint16(std::uint16_t v) {
  return with_packer([&](packer& p) { p.pack_fix_uint16(v); });
}
raw_bytes fix_uint32(std::uint32_t v) {
  return with_packer([&](packer& p) { p.pack_fix_uint32(v); });
}
raw_bytes fix_uint64(std::uint64_t v) {
  return with_packer([&](packer& p) { p.pack_fix_uint64(v); });
}
raw_bytes fix_int8(std::int8_t v) {
  return with_packer([&](packer& p) { p.pack_fix_int8(v); });
}
raw_bytes fix_int16(std::int16_t v) {
  return with_packer([&](packer& p) { p.pack_fix_int16(v); });
}
raw_bytes fix_int32(std::int32_t v) {
  return with_packer([&](packer& p) { p.pack_fix_int32(v); });
}
raw_bytes fix_int64(std::int64_t v) {
  return with_packer([&](packer& p) { p.pack_fix_int64(v); });
}
raw_bytes float32(float v) {
  return with_packer([&](packer& p) { p.pack_float(v); });
}
raw_bytes str8(const std::string& s) {
  return str_with_header(0xd9, 1, s);
}
raw_bytes str16(const std::string& s) {
  return str_with_header(0xda, 2, s);
}
raw_bytes str32(const std::string& s) {
  return str_with_header(0xdb, 4, s);
}

node extension(const std::string& name, const std::string& value) {
  return node_map{{"name", name}, {"value", value}};
}

node pool(const std::string& name) {
  return node_map{{"cpu_limit", nullptr},
                  {"disable_overlapped_recycle", nullptr},
                  {"enable_32bit_app_on_win64", nullptr},
                  {"extensions", node_list{}},
                  {"identity", "ApplicationPoolIdentity"},
                  {"idle_timeout", nullptr},
                  {"managed_pipeline_mode", nullptr},
                  {"managed_runtime_version", nullptr},
                  {"name", name},
                  {"password", nullptr},
                  {"periodic_restart", nullptr},
                  {"private_memory_limit", nullptr},
                  {"queue_length", nullptr},
                  {"service_unavailable_response", nullptr},
                  {"shutdown_time_limit", nullptr},
                  {"start_mode", nullptr},
                  {"start_time_limit", nullptr},
                  {"username", nullptr}};
}

node vdir(const std::string& alias, const std::string& path) {
  return node_map{{"alias", alias}, {"extensions", node_list{}}, {"path", path}};
}

node application(const std::string& path, const std::string& pool_name) {
  return node_map{{"alias", nullptr},
                  {"application_pool", pool_name},
                  {"enable_preload", nullptr},
                  {"extensions", node_list{}},
                  {"path", path},
                  {"service_auto_start_enabled", nullptr},
                  {"service_auto_start_provider", nullptr},
                  {"virtual_directories", node_list{}}};
}

node certificate() {
  return node_map{{"cert_file", nullptr}, {"key_file", nullptr},   {"password", nullptr},
                  {"pfx_file", nullptr},  {"thumbprint", nullptr}, {"use_self_signed", nullptr}};
}

node binding(const std::string& type, const std::string& port) {
  return node_map{{"certificates", node_list{}}, {"hostname", nullptr},
                  {"ip_address", nullptr},       {"port", port},
                  {"require_sni", nullptr},      {"type", type}};
}

node provider(const std::string& name, const std::string& type) {
  return node_map{{"name", name}, {"type", type}};
}

node task() {
  return node_map{{"applicationPools", node_list{}},
                  {"application_pools", node_list{}},
                  {"applications", node_list{application("local")}},
                  {"bindings", node_list{binding("http", "httplabel")}},
                  {"permit_iusr", true},
                  {"service_auto_start_providers", node_list{}},
                  {"target_website", nullptr}};
}

node driver() {
  return node_map{{"allow_secrets_access", false},
                  {"allowed_apppool_identities", node_list{"ApplicationPoolIdentity"}},
                  {"allowed_apppool_users", nullptr},
                  {"allowed_host_paths", nullptr},
                  {"allowed_target_websites", nullptr},
                  {"chromium_path", "/usr/bin/chromium"},
                  {"data_dir", nullptr},
                  {"directory_security", true},
                  {"enabled", true},
                  {"fingerprint_interval", "30s"},
                  {"front_worker_connections", 1024},
                  {"management_api_max_connections_per_client", 512},
                  {"nginx_path", "/usr/sbin/nginx"},
                  {"placeholder_app_path", "/var/www/html"},
                  {"procdump_concurrency", 2},
                  {"procdumps", node_list{}},
                  {"rapid_fail_interval", "5m"},
                  {"rapid_fail_max_crashes", 5},
                  {"request_header_timeout", "10s"},
                  {"screenshot_concurrency", 2},
                  {"screenshot_timeout", "30s"},
                  {"single_hop_static", true},
                  {"upload_max_bytes", static_cast<std::uint64_t>(4294967296ull)},
                  {"websites", node_list{}},
                  {"zip_max_entries", 100000},
                  {"zip_max_ratio", 200},
                  {"zip_max_uncompressed_bytes", static_cast<std::uint64_t>(8589934592ull)}};
}

std::string read_data_file(const std::string& name) {
  const std::string path = std::string(NOMAD_IIS_CONFIG_DATA_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string expect_config_error(const std::function<void()>& fn, const std::string& path,
                                const std::string& needle) {
  try {
    fn();
  } catch (const nomad_iis::config::config_error& e) {
    BOOST_TEST_INFO("message: " << e.what());
    BOOST_TEST(e.path() == path);
    BOOST_TEST_INFO("message: " << e.what());
    BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos);
    return e.what();
  }
  BOOST_ERROR("no config_error thrown; expected one at " << path);
  return {};
}

}  // namespace config_test
