#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "iis/ancestor_access.hpp"
#include "iis/process.hpp"
#include "iis/user_access.hpp"

using namespace nomad_iis::iis;
namespace fs = std::filesystem;

namespace {

/// Whether `user` can open `file` for reading, checked in a child that
/// really switches to the user.
bool user_can_read(const std::string& user, const std::string& file) {
  auto account = find_account(user);
  if (!account) return false;
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(account->gid) != 0 || ::setuid(account->uid) != 0)
      ::_exit(2);
    std::ifstream in(file);
    ::_exit(in.good() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)

BOOST_AUTO_TEST_CASE(pool_users_pass_through_closed_folders_above_the_alloc_dir) {
  if (::geteuid() != 0 || !find_account("www-data")) {
    BOOST_TEST_MESSAGE("needs root and the www-data user");
    return;
  }
  // Like a host whose alloc root is a 0700 temp dir.
  fs::path root = fs::temp_directory_path() / ("niis-acl-" + std::to_string(::getpid()));
  fs::path alloc = root / "alloc1";
  fs::create_directories(alloc / "web" / "local");
  ::chmod(root.c_str(), 0700);
  { std::ofstream(alloc / "web" / "local" / "index.html") << "hi"; }
  auto file = (alloc / "web" / "local" / "index.html").string();
  BOOST_TEST(!user_can_read("www-data", file));

  site_plan plan;
  plan.task_dir = (alloc / "web").string();
  pool_plan pool;
  pool.name = "default";
  pool.run_as_user = "www-data";
  plan.pools.push_back(pool);
  auto changed = grant_ancestor_search(plan);
  BOOST_REQUIRE_EQUAL(changed.size(), 1u);
  BOOST_TEST(changed[0].find(root.string()) == 0u);
  BOOST_TEST(user_can_read("www-data", file));

  // Traverse only: the user still cannot list the closed folder, others still cannot pass.
  struct stat st {};
  ::stat(root.c_str(), &st);
  BOOST_TEST((st.st_mode & S_IXOTH) == 0u);
  BOOST_TEST(!user_can_read("nobody", file));

  // Idempotent: a second start changes nothing.
  BOOST_TEST(grant_ancestor_search(plan).empty());
  fs::remove_all(root);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(iis_unit)

BOOST_AUTO_TEST_CASE(programs_are_looked_up_with_the_pool_users_rights) {
  auto www = find_account("www-data");
  if (::geteuid() != 0 || !www) {
    BOOST_TEST_MESSAGE("needs root and the www-data user");
    return;
  }
  // Like /root/.pyenv/shims first in PATH: root may use it, www-data may not.
  fs::path closed = fs::temp_directory_path() / ("niis-path-" + std::to_string(::getpid()));
  fs::create_directories(closed);
  ::chmod(closed.c_str(), 0700);
  auto shim = (closed / "true").string();
  { std::ofstream(shim) << "#!/bin/sh\n"; }
  ::chmod(shim.c_str(), 0755);
  const std::string path = closed.string() + ":/usr/bin:/bin";
  BOOST_TEST(find_executable("true", "/", path).value_or("") == shim);
  auto as_www = find_executable("true", "/", path, www);
  BOOST_REQUIRE(as_www.has_value());
  BOOST_TEST(*as_www != shim);
  BOOST_TEST(user_may(*as_www, *www, X_OK));
  BOOST_TEST(!find_executable("true", "/", closed.string(), www).has_value());
  fs::remove_all(closed);
}

BOOST_AUTO_TEST_SUITE_END()
