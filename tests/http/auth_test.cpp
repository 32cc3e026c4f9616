#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>

#include <atomic>
#include <sstream>
#include <thread>
#include <vector>

#include "adapters/http/auth.hpp"
#include "tests/http/jwt_util.hpp"

using namespace nomad_iis::http;
using clock_type = std::chrono::system_clock;

namespace {

const auto now = clock_type::now();
const std::string& secret = test::jwt_secret;
using test::at;

std::string make_jwt(const std::function<void(Poco::JWT::Token&)>& tweak = {},
                     const std::string& key = secret) {
  return test::make_jwt(now, tweak, key);
}

std::string b64url(const std::string& s) {
  std::ostringstream out;
  Poco::Base64Encoder enc(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  enc << s;
  enc.close();
  return out.str();
}

auth_result bearer(const authenticator& a, const std::string& token) {
  std::string h = "Bearer " + token;
  return a.authenticate(nullptr, &h, now);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(authentication)

BOOST_AUTO_TEST_CASE(no_auth_configured_allows_everything) {
  authenticator a("", "");
  BOOST_TEST(!a.enabled());
  auto r = a.authenticate(nullptr, nullptr, now);
  BOOST_REQUIRE(r.who);
  BOOST_TEST(r.who->unrestricted);
}

BOOST_AUTO_TEST_CASE(api_key) {
  authenticator a("k3y", "");
  std::string good = "k3y", bad = "k3y ", empty;
  BOOST_TEST(!a.authenticate(nullptr, nullptr, now).who);
  BOOST_TEST(!a.authenticate(&bad, nullptr, now).who);
  BOOST_TEST(!a.authenticate(&empty, nullptr, now).who);
  auto r = a.authenticate(&good, nullptr, now);
  BOOST_REQUIRE(r.who);
  BOOST_TEST(r.who->has(capability::debug));
  BOOST_TEST(r.who->may_access("any", "ns", "job"));
  // A JWT is no key.
  BOOST_TEST(!bearer(a, make_jwt()).who);
  BOOST_TEST(secrets_equal("abc", "abc"));
  BOOST_TEST(!secrets_equal("abc", "abd"));
  BOOST_TEST(!secrets_equal("abc", "abcd"));
}

BOOST_AUTO_TEST_CASE(valid_jwt_claims_scope_the_caller) {
  authenticator a("k3y", secret);
  auto r = bearer(a, make_jwt());
  BOOST_REQUIRE_MESSAGE(r.who, r.why);
  const auto& p = *r.who;
  BOOST_TEST(!p.unrestricted);
  BOOST_TEST(p.has(capability::status));
  BOOST_TEST(p.has(capability::filesystem_access));
  BOOST_TEST(!p.has(capability::debug));
  BOOST_TEST(!p.has(capability::procdump));
  BOOST_TEST(p.may_access_alloc("alloc-1"));
  BOOST_TEST(!p.may_access_alloc("alloc-2"));
  BOOST_TEST(p.may_access("alloc-1", "default", "web"));
  BOOST_TEST(!p.may_access("alloc-1", "other", "web"));
  BOOST_TEST(!p.may_access("alloc-1", "default", "api"));
  // The key still works next to the JWT secret.
  std::string key = "k3y";
  BOOST_TEST(a.authenticate(&key, nullptr, now).who->unrestricted);
}

BOOST_AUTO_TEST_CASE(wildcards_and_lists) {
  authenticator a("", secret);
  auto r = bearer(a, make_jwt([](Poco::JWT::Token& t) {
                    Poco::JSON::Array::Ptr allocs = new Poco::JSON::Array;
                    allocs->add("a1");
                    allocs->add("a2");
                    t.payload().set("allocId", allocs);
                    t.payload().set("namespace", "*");
                    t.payload().set("jobName", "*");
                    t.payload().set("capabilities", "*");
                  }));
  BOOST_REQUIRE_MESSAGE(r.who, r.why);
  BOOST_TEST(r.who->may_access("a2", "x", "y"));
  BOOST_TEST(!r.who->may_access("a3", "x", "y"));
  BOOST_TEST(r.who->has(capability::debug));
  BOOST_TEST(r.who->has(capability::procdump));
}

BOOST_AUTO_TEST_CASE(any_alloc_needs_the_key_or_an_alloc_wildcard) {
  authenticator a("k3y", secret);
  std::string key = "k3y";
  BOOST_TEST(a.authenticate(&key, nullptr, now).who->may_access_any_alloc());
  auto one = bearer(a, make_jwt());
  BOOST_REQUIRE(one.who);
  BOOST_TEST(!one.who->may_access_any_alloc());
  auto every = bearer(a, make_jwt([](Poco::JWT::Token& t) { t.payload().set("allocId", "*"); }));
  BOOST_REQUIRE(every.who);
  BOOST_TEST(every.who->may_access_any_alloc());
  BOOST_TEST(authenticator("", "").authenticate(nullptr, nullptr, now).who->may_access_any_alloc());
}

BOOST_AUTO_TEST_CASE(missing_claims_grant_nothing) {
  authenticator a("", secret);
  auto r = bearer(a, make_jwt([](Poco::JWT::Token& t) {
                    t.payload().remove("namespace");
                    t.payload().remove("capabilities");
                  }));
  BOOST_REQUIRE(r.who);
  BOOST_TEST(!r.who->has(capability::status));
  BOOST_TEST(!r.who->may_access("alloc-1", "default", "web"));
}

BOOST_AUTO_TEST_CASE(bad_tokens_are_rejected) {
  authenticator a("", secret);
  auto expired =
      make_jwt([](Poco::JWT::Token& t) { t.setExpiration(at(now - std::chrono::minutes(10))); });
  auto future =
      make_jwt([](Poco::JWT::Token& t) { t.setNotBefore(at(now + std::chrono::minutes(10))); });
  auto no_exp = make_jwt([](Poco::JWT::Token& t) { t.payload().remove("exp"); });
  auto wrong_iss = make_jwt([](Poco::JWT::Token& t) { t.setIssuer("Someone"); });
  auto wrong_aud = make_jwt([](Poco::JWT::Token& t) { t.setAudience("Other"); });
  auto wrong_key = make_jwt({}, "another-secret");
  auto good = make_jwt();
  auto tampered = good;
  tampered[tampered.find('.') + 5] ^= 1;
  auto dot = good.rfind('.');
  auto unsigned_none = b64url(R"({"alg":"none","typ":"JWT"})") +
                       good.substr(good.find('.'), dot - good.find('.')) + ".";
  Poco::JWT::Token t384;
  t384.setIssuer("NomadIIS");
  t384.setAudience("ManagementApi");
  t384.setExpiration(at(now + std::chrono::hours(1)));
  auto hs384 =
      Poco::JWT::Signer(secret).addAllAlgorithms().sign(t384, Poco::JWT::Signer::ALGO_HS384);
  for (const auto& tok :
       {expired, future, no_exp, wrong_iss, wrong_aud, wrong_key, tampered, unsigned_none, hs384,
        std::string("garbage"), std::string("a.b.c"), std::string()}) {
    auto r = bearer(a, tok);
    BOOST_TEST(!r.who, tok);
  }
  std::string basic = "Basic Zm9vOmJhcg==";
  BOOST_TEST(!a.authenticate(nullptr, &basic, now).who);
  // Within the clock skew an expired token still passes.
  auto just =
      make_jwt([](Poco::JWT::Token& t) { t.setExpiration(at(now - std::chrono::seconds(10))); });
  BOOST_TEST(bearer(a, just).who.has_value());
  BOOST_TEST(bearer(a, good).who.has_value());
  std::string lower = "bearer " + good;
  BOOST_TEST(a.authenticate(nullptr, &lower, now).who.has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(auth_threads)

BOOST_AUTO_TEST_CASE(concurrent_jwt_checks) {
  // Each check makes and drops Poco's OpenSSL initializer; threads doing
  // that at once must not tear OpenSSL down under each other.
  const authenticator a("", secret);
  const std::string token = make_jwt();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i)
        if (!bearer(a, token).who) ++failures;
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(failures.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
