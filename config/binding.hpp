#pragma once
// A site binding as a job's `binding { ... }` block (and a driver-config
// website's) gives it.

#include <optional>
#include <string>

namespace nomad_iis::config {

struct certificate {
  std::optional<std::string> thumbprint;  ///< Windows certificate store only: refused on Linux
  std::optional<std::string> pfx_file;
  std::optional<std::string> password;   ///< pfx password, a secret
  std::optional<std::string> cert_file;  ///< PEM
  std::optional<std::string> key_file;   ///< PEM (PKCS#8 or traditional)
  bool use_self_signed = false;
};

enum class binding_type { http, https };

struct binding {
  binding_type type = binding_type::http;
  /// A port label of the group network, or a static port number (validate() leaves
  /// static ports in canonical decimal form, 1..65535).
  std::string port;
  std::optional<std::string> hostname;
  std::optional<bool> require_sni;
  std::optional<std::string> ip_address;
  std::optional<config::certificate> certificate;
};

}  // namespace nomad_iis::config
