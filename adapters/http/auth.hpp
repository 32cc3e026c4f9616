#pragma once
// Who is calling the Management API and what they may do: an X-Api-Key
// (full access, compared in constant time) or a Bearer JWT (HS256, issuer
// NomadIIS, audience ManagementApi) whose claims scope it to namespaces,
// jobs and allocations and grant capabilities.

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nomad_iis::http {

/// What an operation needs, named as nomad-iis names them in JWT claims.
enum class capability {
  status,
  filesystem_access,
  app_pool_lifecycle,
  screenshots,
  procdump,
  debug
};

std::string_view to_string(capability c);

/// An authenticated caller.
struct principal {
  bool unrestricted = false;  ///< API key, or no authentication configured
  std::vector<std::string> namespaces;
  std::vector<std::string> jobs;
  std::vector<std::string> allocs;
  std::vector<std::string> capabilities;

  bool has(capability c) const;
  /// The allocId claim allows `alloc_id` (checked before any lookup).
  bool may_access_alloc(std::string_view alloc_id) const;
  /// Namespace, job and allocation claims all allow the task.
  bool may_access(std::string_view alloc_id, std::string_view ns, std::string_view job) const;
  /// The API key, or an allocId claim of `*`: what belongs to no
  /// allocation (dangling sites) is visible only then.
  bool may_access_any_alloc() const;
};

/// The result of authenticating one request; `why` is for logs only.
struct auth_result {
  std::optional<principal> who;
  std::string why;
};

class authenticator {
 public:
  /// Empty key and secret: every caller is unrestricted.
  authenticator(std::string api_key, std::string jwt_secret);

  bool enabled() const { return !api_key_.empty() || !jwt_secret_.empty(); }

  /// Checks the X-Api-Key and Authorization header values (nullptr when
  /// absent) at time `now`.
  auth_result authenticate(const std::string* api_key_header, const std::string* authorization,
                           std::chrono::system_clock::time_point now) const;

  /// Leeway for exp and nbf against clock drift between token issuer and node.
  static constexpr std::chrono::seconds clock_skew{60};

 private:
  auth_result check_jwt(const std::string& token, std::chrono::system_clock::time_point now) const;

  std::string api_key_;
  /// SHA-256 of api_key_, made once: a check hashes only what the client sent.
  std::array<unsigned char, 32> api_key_digest_{};
  std::string jwt_secret_;
};

/// Constant-time equality of two secrets (timing leaks neither content nor length).
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace nomad_iis::http
