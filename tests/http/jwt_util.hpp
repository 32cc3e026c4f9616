#pragma once
// Management API tokens for the HTTP adapter's tests, signed with Poco JWT
// the way nomad-iis issues them.

#include <chrono>
#include <functional>
#include <string>

#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Timestamp.h>

namespace nomad_iis::http::test {

inline const std::string jwt_secret = "jwt-secret-for-tests-0123456789";

inline Poco::Timestamp at(std::chrono::system_clock::time_point tp) {
  return Poco::Timestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count());
}

/// A token valid around `now` for namespace default, job web, alloc-1 with
/// Status and FilesystemAccess; `tweak` edits it before signing.
inline std::string make_jwt(std::chrono::system_clock::time_point now,
                            const std::function<void(Poco::JWT::Token&)>& tweak = {},
                            const std::string& key = jwt_secret) {
  Poco::JWT::Token t;
  t.setIssuer("NomadIIS");
  t.setAudience("ManagementApi");
  t.setExpiration(at(now + std::chrono::hours(1)));
  t.setNotBefore(at(now - std::chrono::minutes(5)));
  t.payload().set("namespace", "default");
  t.payload().set("jobName", "web");
  t.payload().set("allocId", "alloc-1");
  Poco::JSON::Array::Ptr caps = new Poco::JSON::Array;
  caps->add("Status");
  caps->add("FilesystemAccess");
  t.payload().set("capabilities", caps);
  if (tweak) tweak(t);
  Poco::JWT::Signer signer(key);
  return signer.sign(t, Poco::JWT::Signer::ALGO_HS256);
}

}  // namespace nomad_iis::http::test
