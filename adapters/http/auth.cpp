#include "adapters/http/auth.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <Poco/Crypto/Crypto.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

namespace nomad_iis::http {
namespace {

constexpr std::string_view issuer = "NomadIIS";
constexpr std::string_view audience = "ManagementApi";

bool claim_allows(const std::vector<std::string>& claim, std::string_view value) {
  return std::any_of(claim.begin(), claim.end(),
                     [&](const std::string& c) { return c == "*" || c == value; });
}

/// A claim given as a string or as a list of strings (as nomad-iis reads
/// them); anything else contributes nothing.
std::vector<std::string> string_list(const Poco::JSON::Object& payload, const std::string& name) {
  std::vector<std::string> out;
  if (!payload.has(name)) return out;
  if (auto arr = payload.getArray(name)) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto v = arr->get(static_cast<unsigned>(i));
      if (v.isString()) out.push_back(v.convert<std::string>());
    }
    return out;
  }
  auto v = payload.get(name);
  if (v.isString()) out.push_back(v.convert<std::string>());
  return out;
}

/// A NumericDate claim in seconds, if present and numeric.
std::optional<double> numeric_date(const Poco::JSON::Object& payload, const std::string& name) {
  if (!payload.has(name)) return std::nullopt;
  auto v = payload.get(name);
  if (!v.isNumeric()) return std::nullopt;
  return v.convert<double>();
}

}  // namespace

std::string_view to_string(capability c) {
  switch (c) {
    case capability::status:
      return "Status";
    case capability::filesystem_access:
      return "FilesystemAccess";
    case capability::app_pool_lifecycle:
      return "AppPoolLifecycle";
    case capability::screenshots:
      return "Screenshots";
    case capability::procdump:
      return "ProcDump";
    case capability::debug:
      return "Debug";
  }
  return "";
}

bool principal::has(capability c) const {
  return unrestricted || claim_allows(capabilities, to_string(c));
}

bool principal::may_access_alloc(std::string_view alloc_id) const {
  return unrestricted || claim_allows(allocs, alloc_id);
}

bool principal::may_access(std::string_view alloc_id, std::string_view ns,
                           std::string_view job) const {
  return unrestricted || (claim_allows(allocs, alloc_id) && claim_allows(namespaces, ns) &&
                          claim_allows(jobs, job));
}

bool principal::may_access_any_alloc() const {
  return unrestricted || std::find(allocs.begin(), allocs.end(), "*") != allocs.end();
}

namespace {

using digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

/// SHA-256 fetched from OpenSSL's provider once: SHA256() looks it up by
/// name on every call, under a lock, which every API-key request paid.
const EVP_MD* sha256_md() {
  static const auto md = std::unique_ptr<EVP_MD, void (*)(EVP_MD*)>(
      EVP_MD_fetch(nullptr, "SHA256", nullptr), EVP_MD_free);
  return md.get();
}

digest sha256(std::string_view s) {
  digest d{};
  if (EVP_Digest(s.data(), s.size(), d.data(), nullptr, sha256_md(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return d;
}

/// Equal digests, compared in constant time.
bool same_digest(const digest& a, const digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool secrets_equal(std::string_view a, std::string_view b) {
  return same_digest(sha256(a), sha256(b));
}

authenticator::authenticator(std::string api_key, std::string jwt_secret)
    : api_key_(std::move(api_key)),
      api_key_digest_(sha256(api_key_)),
      jwt_secret_(std::move(jwt_secret)) {
  // Every JWT check makes and drops a Poco digest engine, whose OpenSSL
  // initializer is reference-counted: when concurrent checks bring the
  // count to zero, one thread frees Poco's OpenSSL state while another
  // allocates it (heap corruption, the plugin crashed). One reference held
  // for the process keeps it initialized.
  Poco::Crypto::initializeCrypto();
}

auth_result authenticator::authenticate(const std::string* api_key_header,
                                        const std::string* authorization,
                                        std::chrono::system_clock::time_point now) const {
  if (!enabled()) return {principal{true, {}, {}, {}, {}}, ""};
  if (api_key_header && !api_key_.empty() && same_digest(sha256(*api_key_header), api_key_digest_))
    return {principal{true, {}, {}, {}, {}}, ""};
  if (authorization && !jwt_secret_.empty()) {
    constexpr std::string_view scheme = "bearer ";
    if (authorization->size() > scheme.size()) {
      std::string prefix = authorization->substr(0, scheme.size());
      std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (prefix == scheme) {
        auto token = authorization->substr(scheme.size());
        token.erase(0, token.find_first_not_of(' '));
        return check_jwt(token, now);
      }
    }
    return {std::nullopt, "the Authorization header is not a Bearer token"};
  }
  if (api_key_header) return {std::nullopt, "wrong API key"};
  return {std::nullopt, "no credentials"};
}

auth_result authenticator::check_jwt(const std::string& jwt,
                                     std::chrono::system_clock::time_point now) const {
  Poco::JWT::Token token;
  try {
    Poco::JWT::Signer signer(jwt_secret_);
    signer.setAlgorithms({Poco::JWT::Signer::ALGO_HS256});
    if (!signer.tryVerify(jwt, token)) return {std::nullopt, "invalid token signature"};
  } catch (const Poco::Exception& e) {
    return {std::nullopt, "malformed token"};
  } catch (const std::exception& e) {
    return {std::nullopt, "malformed token"};
  }
  if (token.getAlgorithm() != Poco::JWT::Signer::ALGO_HS256)
    return {std::nullopt, "token algorithm is not HS256"};
  const auto& payload = token.payload();
  try {
    if (token.getIssuer() != issuer) return {std::nullopt, "wrong token issuer"};
    auto aud = token.getAudience();
    if (std::find(aud.begin(), aud.end(), audience) == aud.end())
      return {std::nullopt, "wrong token audience"};
    const double t = std::chrono::duration<double>(now.time_since_epoch()).count();
    const double skew = static_cast<double>(clock_skew.count());
    auto exp = numeric_date(payload, "exp");
    if (!exp) return {std::nullopt, "the token has no expiry"};
    if (t > *exp + skew) return {std::nullopt, "the token has expired"};
    if (auto nbf = numeric_date(payload, "nbf"); nbf && t + skew < *nbf)
      return {std::nullopt, "the token is not valid yet"};
    principal p;
    p.namespaces = string_list(payload, "namespace");
    p.jobs = string_list(payload, "jobName");
    p.allocs = string_list(payload, "allocId");
    p.capabilities = string_list(payload, "capabilities");
    return {std::move(p), ""};
  } catch (const Poco::Exception&) {
    return {std::nullopt, "malformed token claims"};
  }
}

}  // namespace nomad_iis::http
