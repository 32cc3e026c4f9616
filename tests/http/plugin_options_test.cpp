#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "adapters/plugin_options.hpp"

using namespace nomad_iis;
namespace fs = std::filesystem;

namespace {

/// A fake environment.
env_lookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const env_lookup no_env = env_of({});

/// A private folder with secret files, removed afterwards.
struct secret_files {
  fs::path dir;
  secret_files() {
    char tmpl[] = "/tmp/niis-options-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl));
    dir = tmpl;
  }
  ~secret_files() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  std::string write(const std::string& name, const std::string& content) {
    auto p = dir / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

/// The message of the std::invalid_argument `f` throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_arguments)

BOOST_AUTO_TEST_CASE(secrets_from_files_lose_one_trailing_newline) {
  secret_files files;
  auto key = files.write("key", "k3y-from-file\n");
  auto jwt = files.write("jwt", "jwt secret with spaces\r\n");
  auto o = parse_plugin_options({"--management-api-port=5004", "--management-api-key-file=" + key,
                                 "--management-api-jwt-secret-file", jwt},
                                no_env);
  BOOST_TEST(o.management_api_key == "k3y-from-file");
  BOOST_TEST(o.management_api_jwt_secret == "jwt secret with spaces");
  BOOST_TEST(o.unsafe_secret_arguments.empty());
  // Only one newline goes: the rest is the secret.
  auto two = files.write("two", "k\n\n");
  BOOST_TEST(
      parse_plugin_options({"--management-api-key-file=" + two}, no_env).management_api_key ==
      "k\n");
}

BOOST_AUTO_TEST_CASE(secrets_from_the_environment) {
  auto o = parse_plugin_options(
      {}, env_of({{api_key_variable, "env-key"}, {jwt_secret_variable, "env-jwt"}}));
  BOOST_TEST(o.management_api_key == "env-key");
  BOOST_TEST(o.management_api_jwt_secret == "env-jwt");
  BOOST_TEST(o.unsafe_secret_arguments.empty());
  BOOST_TEST(o.management_api_authenticated());
}

BOOST_AUTO_TEST_CASE(secrets_as_arguments_still_work_and_are_marked_unsafe) {
  auto o = parse_plugin_options(
      {"--management-api-key=arg-key", "--management-api-jwt-secret", "arg-jwt"}, no_env);
  BOOST_TEST(o.management_api_key == "arg-key");
  BOOST_TEST(o.management_api_jwt_secret == "arg-jwt");
  BOOST_TEST(o.unsafe_secret_arguments ==
                 std::vector<std::string>({"--management-api-key", "--management-api-jwt-secret"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_secret_given_two_ways_is_an_error_naming_both) {
  secret_files files;
  auto key = files.write("key", "file-key");
  auto file_and_env = error_of([&] {
    parse_plugin_options({"--management-api-key-file=" + key},
                         env_of({{api_key_variable, "env-key"}}));
  });
  BOOST_TEST(contains(file_and_env, "--management-api-key-file"));
  BOOST_TEST(contains(file_and_env, api_key_variable));
  auto env_and_arg = error_of([&] {
    parse_plugin_options({"--management-api-jwt-secret=arg-jwt"},
                         env_of({{jwt_secret_variable, "env-jwt"}}));
  });
  BOOST_TEST(contains(env_and_arg, jwt_secret_variable));
  BOOST_TEST(contains(env_and_arg, "--management-api-jwt-secret"));
  auto file_and_arg = error_of([&] {
    parse_plugin_options({"--management-api-key=arg-key", "--management-api-key-file=" + key},
                         no_env);
  });
  BOOST_TEST(contains(file_and_arg, "--management-api-key-file"));
  BOOST_TEST(contains(file_and_arg, "--management-api-key "));
  // No error echoes a secret.
  for (const auto& e : {file_and_env, env_and_arg, file_and_arg}) {
    BOOST_TEST(!contains(e, "env-key"));
    BOOST_TEST(!contains(e, "arg-jwt"));
    BOOST_TEST(!contains(e, "file-key"));
  }
  // The key and the JWT secret from different sources is fine.
  auto o = parse_plugin_options({"--management-api-key-file=" + key},
                                env_of({{jwt_secret_variable, "env-jwt"}}));
  BOOST_TEST(o.management_api_key == "file-key");
  BOOST_TEST(o.management_api_jwt_secret == "env-jwt");
}

BOOST_AUTO_TEST_CASE(unreadable_or_empty_secrets_are_errors_naming_the_argument) {
  secret_files files;
  auto missing = error_of([&] {
    parse_plugin_options({"--management-api-key-file=" + (files.dir / "nope").string()}, no_env);
  });
  BOOST_TEST(contains(missing, "--management-api-key-file"));
  BOOST_TEST(contains(missing, "No such file"));
  auto empty = files.write("empty", "\n");
  auto empty_error = error_of(
      [&] { parse_plugin_options({"--management-api-jwt-secret-file=" + empty}, no_env); });
  BOOST_TEST(contains(empty_error, "--management-api-jwt-secret-file"));
  BOOST_TEST(contains(empty_error, "empty"));
  auto folder = error_of(
      [&] { parse_plugin_options({"--management-api-key-file=" + files.dir.string()}, no_env); });
  BOOST_TEST(contains(folder, "--management-api-key-file"));
  auto big = files.write("big", std::string(70 << 10, 'k'));
  BOOST_TEST(contains(
      error_of([&] { parse_plugin_options({"--management-api-key-file=" + big}, no_env); }),
      "64 KiB"));
  auto empty_env = error_of([&] { parse_plugin_options({}, env_of({{api_key_variable, ""}})); });
  BOOST_TEST(contains(empty_env, api_key_variable));
  BOOST_TEST(contains(empty_env, "empty"));
  BOOST_TEST(
      contains(error_of([&] { parse_plugin_options({"--management-api-key-file"}, no_env); }),
               "needs a value"));
}

BOOST_AUTO_TEST_CASE(wiping_overwrites_only_secret_values_in_place) {
  // One block like the kernel lays out argv: NUL-separated strings.
  const std::vector<std::string> args = {"nomad_iis",
                                         "--management-api-port=5004",
                                         "--management-api-key=k3y",
                                         "--management-api-jwt-secret",
                                         "jwt-secret",
                                         "--management-api-key-file=/etc/key",
                                         "--log-level=debug"};
  std::string block;
  for (const auto& a : args) block.append(a).push_back('\0');
  std::vector<char*> argv;
  for (std::size_t at = 0; at < block.size(); at += std::strlen(&block[at]) + 1)
    argv.push_back(&block[at]);
  const auto size_before = block.size();
  BOOST_TEST(wipe_secret_arguments(static_cast<int>(argv.size()), argv.data()) == 2);
  BOOST_TEST(block.size() == size_before);
  BOOST_TEST(block.find("k3y") == std::string::npos);
  BOOST_TEST(std::string(argv[2]) == "--management-api-key=***");
  BOOST_TEST(std::string(argv[3]) == "--management-api-jwt-secret");
  BOOST_TEST(std::string(argv[4]) == "**********");
  BOOST_TEST(std::string(argv[5]) == "--management-api-key-file=/etc/key");
  BOOST_TEST(std::string(argv[6]) == "--log-level=debug");
}

BOOST_AUTO_TEST_SUITE_END()
