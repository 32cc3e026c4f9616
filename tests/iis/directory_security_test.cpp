// Finding 2: the driver (root) changes rights below the task directory, which
// the pools' users can write. A pool's user that puts a symlink in place of a
// folder the driver changes (tmp/, an application folder or one above it)
// must never make root change anything outside the task.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <acl/libacl.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "site_fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;
namespace fs = std::filesystem;

namespace {

/// Mode, owner and ACL entry count of everything in a folder outside the task.
std::map<std::string, std::string> fingerprint(const std::string& root) {
  std::map<std::string, std::string> out;
  auto describe = [](const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return std::string("gone");
    std::string text = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
                       std::to_string(st.st_gid);
    acl_t access = acl_get_file(path.c_str(), ACL_TYPE_ACCESS);
    text += " acl=" + std::to_string(access ? acl_entries(access) : -1);
    if (access) acl_free(access);
    if (S_ISDIR(st.st_mode)) {
      acl_t defaults = acl_get_file(path.c_str(), ACL_TYPE_DEFAULT);
      text += " default=" + std::to_string(defaults ? acl_entries(defaults) : -1);
      if (defaults) acl_free(defaults);
    }
    return text;
  };
  out[root] = describe(root);
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    out[entry.path().string()] = describe(entry.path().string());
  }
  return out;
}

/// Two pools of two identities (so the old code made tmp/ world-writable),
/// laid out as Nomad does: task dir and local/ 0777, tmp/ 01777. Outside the
/// task, a root-only folder a pool's user would love to open up.
struct link_fixture : site_fixture {
  std::string outside;
  std::string task_dir;
  link_fixture() {
    task_dir = alloc.task_dir();
    ::chmod(task_dir.c_str(), 0777);
    ::chmod((task_dir + "/tmp").c_str(), 01777);
    outside = root.path() + "/outside";
    fs::create_directories(outside + "/inner");
    std::ofstream(outside + "/secret.txt") << "root only";
    std::ofstream(outside + "/inner/deep.txt") << "root only";
    ::chmod(outside.c_str(), 0750);
    ::chmod((outside + "/inner").c_str(), 0700);
    ::chmod((outside + "/secret.txt").c_str(), 0600);
    ::chmod((outside + "/inner/deep.txt").c_str(), 0600);
    alloc.write("local/b/x.txt", "pool b");
    alloc.write("local/deep/inner/y.txt", "deep");
    auto second = make_pool("second");
    second.identity = "LocalService";
    config.application_pools.push_back(make_pool("default"));
    config.application_pools.push_back(second);
    config.applications.push_back(make_app("local/site"));
    config.applications.push_back(make_app("local/b", "b", "second"));
    config.applications.push_back(make_app("local/deep/inner", "deep"));
  }
  unix_account pool_user() {
    auto account = find_account(*plan.pools[0].run_as_user);
    BOOST_REQUIRE(account.has_value());
    BOOST_REQUIRE(account->uid != 0u);
    return *account;
  }
  void restart() {
    remember();
    BOOST_TEST(!run([&](completion done) { web->stop(std::chrono::seconds(5), "", done); }));
    const auto error = run([&](completion done) { web->start(done); });
    BOOST_TEST(!error, "restart failed: " << error.value_or(""));
    remember();
  }
};

/// The rights ("rwx", "r-x", ...) the ACL of `path` (access or default)
/// gives `uid` by a named entry, after the mask; "none" without one.
std::string named_rights(const std::string& path, uid_t uid, acl_type_t type = ACL_TYPE_ACCESS) {
  acl_t acl = acl_get_file(path.c_str(), type);
  if (!acl) return "no ACL";
  auto bits = [](acl_entry_t entry) {
    acl_permset_t set;
    acl_get_permset(entry, &set);
    return (acl_get_perm(set, ACL_READ) == 1 ? 4u : 0u) |
           (acl_get_perm(set, ACL_WRITE) == 1 ? 2u : 0u) |
           (acl_get_perm(set, ACL_EXECUTE) == 1 ? 1u : 0u);
  };
  std::optional<unsigned> rights;
  unsigned mask = 7;
  acl_entry_t entry;
  for (int which = ACL_FIRST_ENTRY; acl_get_entry(acl, which, &entry) == 1;
       which = ACL_NEXT_ENTRY) {
    acl_tag_t tag;
    acl_get_tag_type(entry, &tag);
    if (tag == ACL_MASK) mask = bits(entry);
    if (tag != ACL_USER) continue;
    auto* qualifier = static_cast<uid_t*>(acl_get_qualifier(entry));
    if (qualifier && *qualifier == uid) rights = bits(entry);
    acl_free(qualifier);
  }
  acl_free(acl);
  if (!rights) return "none";
  const unsigned r = *rights & mask;
  return {r & 4 ? 'r' : '-', r & 2 ? 'w' : '-', r & 1 ? 'x' : '-'};
}

/// "<mode in octal> <uid>:<gid>" of `path` (not following a link).
std::string mode_and_owner(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "gone";
  char text[64];
  std::snprintf(text, sizeof text, "%04o %u:%u", static_cast<unsigned>(st.st_mode & 07777),
                static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid));
  return text;
}

/// 0 when `account` can list `dir`, else errno.
int try_list(const unix_account& account, const std::string& dir) {
  return run_as(account, [&] {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno;
    ::closedir(d);
    return 0;
  });
}

/// 0 when `account` can create `path`, else errno.
int try_create(const unix_account& account, const std::string& path) {
  return run_as(account, [&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
  });
}

constexpr uid_t nobody = 65534;

/// The task dir as Nomad (root) lays it out: the task dir, local/ and tmp/
/// open to everyone (0777, tmp/ 01777) and owned by nobody, secrets/ and
/// private/ root's; the driver's directory security then runs on start.
struct security_fixture : site_fixture {
  std::string task_dir = alloc.task_dir();
  int rounds = 0;  ///< check_layout calls: its files get fresh names each time
  security_fixture() {
    for (const char* dir : {"", "/local", "/tmp"}) {
      BOOST_REQUIRE(::chown((task_dir + dir).c_str(), nobody, nobody) == 0);
      ::chmod((task_dir + dir).c_str(), 0777);
    }
    ::chmod((task_dir + "/tmp").c_str(), 01777);
    ::chmod((task_dir + "/secrets").c_str(), 0755);
    ::chmod((task_dir + "/private").c_str(), 0755);
    ::chmod((task_dir + "/secrets/token.txt").c_str(), 0644);
    alloc.write("local/b/x.txt", "pool b");
  }

  unix_account account_of(std::size_t pool) {
    BOOST_REQUIRE(plan.pools.at(pool).run_as_user.has_value());
    auto account = find_account(*plan.pools[pool].run_as_user);
    BOOST_REQUIRE(account.has_value());
    BOOST_REQUIRE(account->uid != 0u);
    return *account;
  }

  /// What directory security must have set up for the pools' `users`.
  void check_layout(const std::vector<unix_account>& users) {
    const std::string round = std::to_string(++rounds);
    // Owners stay as Nomad made them: no pool's user owns (and so could
    // chmod) a folder of the task. Other users lose every right.
    BOOST_TEST(mode_and_owner(task_dir) == "0770 65534:65534");
    BOOST_TEST(mode_and_owner(task_dir + "/local") == "0770 65534:65534");
    BOOST_TEST(mode_and_owner(task_dir + "/tmp") == "1770 65534:65534");
    BOOST_TEST(mode_and_owner(task_dir + "/secrets") == "0700 0:0");
    BOOST_TEST(mode_and_owner(task_dir + "/private") == "0700 0:0");
    BOOST_TEST(mode_and_owner(task_dir + "/secrets/token.txt") == "0644 0:0");
    BOOST_TEST(mode_and_owner(task_dir + "/local/site/file.txt").substr(5) == "0:0");
    for (const auto& user : users) {
      BOOST_TEST_CONTEXT("pool user " << user.name) {
        // Through the task dir, never into it: tmp/ and local/ cannot be moved.
        BOOST_TEST(named_rights(task_dir, user.uid) == "--x");
        BOOST_TEST(named_rights(task_dir, user.uid, ACL_TYPE_DEFAULT) == "none");
        // local/ and tmp/ writable, as IIS gives the pool identities, and
        // inherited by what is made there later.
        for (const char* dir : {"/local", "/tmp", "/local/site", "/local/b"}) {
          BOOST_TEST(named_rights(task_dir + dir, user.uid) == "rwx", dir);
          BOOST_TEST(named_rights(task_dir + dir, user.uid, ACL_TYPE_DEFAULT) == "rwx", dir);
        }
        BOOST_TEST(named_rights(task_dir + "/local/site/file.txt", user.uid) == "rw-");
        // secrets/ and private/ stay the task's own.
        for (const char* dir : {"/secrets", "/private", "/secrets/token.txt"})
          BOOST_TEST(named_rights(task_dir + dir, user.uid) == "none", dir);
        BOOST_TEST(try_list(user, task_dir + "/secrets") == EACCES);
        BOOST_TEST(try_list(user, task_dir) == EACCES);
        BOOST_TEST(try_create(user, task_dir + "/new.txt") == EACCES);
        BOOST_TEST(try_create(user, task_dir + "/local/by-" + user.name + "-" + round) == 0);
        BOOST_TEST(try_create(user, task_dir + "/tmp/by-" + user.name + "-" + round) == 0);
      }
    }
    // Anyone else (here: daemon) gets nothing.
    const auto other = find_account("daemon");
    BOOST_REQUIRE(other.has_value());
    BOOST_TEST(try_list(*other, task_dir + "/local") == EACCES);
    BOOST_TEST(try_create(*other, task_dir + "/tmp/by-daemon-" + round) == EACCES);
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_FIXTURE_TEST_SUITE(directory_security, link_fixture)

BOOST_AUTO_TEST_CASE(links_put_in_place_of_task_folders_are_never_followed) {
  if (::geteuid() != 0) return;  // only root changes rights
  start();
  const auto before = fingerprint(outside);
  const std::string target = outside;
  const std::string task = task_dir;
  // The task dir itself is closed to the pool's user (Nomad leaves it 0777):
  // it cannot move tmp/ away ...
  const int moved = run_as(pool_user(), [&] {
    return ::rename((task + "/tmp").c_str(), (task + "/tmp.old").c_str()) == 0 ? 0 : errno;
  });
  BOOST_TEST(moved == EACCES);
  // ... so a link takes tmp/'s place here as root (whoever can write the task
  // dir), and the pool's user swaps the folder above an application for one.
  BOOST_REQUIRE(::rename((task + "/tmp").c_str(), (task + "/tmp.old").c_str()) == 0);
  BOOST_REQUIRE(::symlink(target.c_str(), (task + "/tmp").c_str()) == 0);
  const int code = run_as(pool_user(), [&] {
    if (::rename((task + "/local/deep").c_str(), (task + "/local/deep.old").c_str()) != 0) return 3;
    if (::symlink(target.c_str(), (task + "/local/deep").c_str()) != 0) return 4;
    return 0;
  });
  BOOST_REQUIRE_EQUAL(code, 0);
  restart();  // runs the directory security again
  const auto after = fingerprint(outside);
  for (const auto& [path, text] : before) {
    BOOST_TEST(after.at(path) == text, path << " changed: " << text << " -> " << after.at(path));
  }
  BOOST_TEST(after.size() == before.size());
  BOOST_TEST(get("/file.txt").status == 200);
  BOOST_TEST(get("/b/x.txt").body == "pool b");
  const auto note = observer->wait_for({"left some folders alone", "/tmp", "never followed"});
  BOOST_TEST(note.has_value(), "no event names the link in place of tmp/");
}

/// A Management API change in progress keeps its staging folder to itself:
/// directory security grants the pools nothing there.
BOOST_AUTO_TEST_CASE(staging_folders_get_no_grants) {
  if (::geteuid() != 0) return;
  const std::string staging = task_dir + "/local/.nomad-iis-staging-test";
  fs::create_directories(staging);
  ::chmod(staging.c_str(), 0700);
  start();
  const auto before = fingerprint(staging);
  web->refresh_access();
  restart();  // queued behind the refresh: both have run
  BOOST_TEST(fingerprint(staging) == before);
  struct stat st {};
  BOOST_REQUIRE(::stat(staging.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
  acl_t access = acl_get_file((task_dir + "/local").c_str(), ACL_TYPE_ACCESS);
  BOOST_TEST(access != nullptr);
  if (access) {
    BOOST_TEST(acl_entries(access) > 3);  // local/ itself got the pools' entries
    acl_free(access);
  }
}

BOOST_AUTO_TEST_CASE(folders_flipped_with_links_during_restarts_are_never_followed) {
  if (::geteuid() != 0) return;
  start();
  const auto before = fingerprint(outside);
  const std::string target = outside;
  const std::string task = task_dir;
  // The pool's user flips local/deep with a link to the outside folder as
  // fast as it can while the site restarts again and again; tmp/ is flipped
  // by root (the task dir is closed to the pool's user).
  auto flip = [&](const std::string& folder) {
    return [&, folder] {
      if (::symlink(target.c_str(), (folder + ".link").c_str()) != 0) return 1;
      const auto stop = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (std::chrono::steady_clock::now() < stop)
        ::renameat2(AT_FDCWD, folder.c_str(), AT_FDCWD, (folder + ".link").c_str(),
                    RENAME_EXCHANGE);
      return 0;
    };
  };
  const auto root_account = find_account("root");
  BOOST_REQUIRE(root_account.has_value());
  const int flipper = start_as(pool_user(), flip(task + "/local/deep"));
  const int root_flipper = start_as(*root_account, flip(task + "/tmp"));
  for (const auto* link : {"/local/deep.link", "/tmp.link"}) {
    struct stat st {};
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::lstat((task + link).c_str(), &st) != 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_REQUIRE_MESSAGE(::lstat((task + link).c_str(), &st) == 0, "no flipper made " << link);
  }
  constexpr int restarts = 12;
  int escapes = 0;
  int failed_starts = 0;
  for (int i = 0; i < restarts; ++i) {
    remember();
    run([&](completion done) { web->stop(std::chrono::seconds(5), "", done); });
    if (run([&](completion done) { web->start(done); })) ++failed_starts;
    remember();
    if (fingerprint(outside) != before) ++escapes;
  }
  for (const int child : {flipper, root_flipper}) {
    ::kill(child, SIGKILL);
    wait_child(child);
  }
  BOOST_TEST(escapes == 0, escapes << " of " << restarts << " restarts changed " << outside);
  const auto after = fingerprint(outside);
  for (const auto& [path, text] : before) {
    BOOST_TEST(after.at(path) == text, path << " changed: " << text << " -> " << after.at(path));
  }
  BOOST_TEST_MESSAGE(failed_starts << " of " << restarts << " starts failed while flipping");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(directory_modes, security_fixture)

BOOST_AUTO_TEST_CASE(owners_and_modes_for_one_pool_user) {
  if (::geteuid() != 0) return;  // only root changes rights
  config.applications.push_back(make_app("local/site"));
  start();
  check_layout({account_of(0)});
  BOOST_TEST(get("/file.txt").body == "static file content");
}

BOOST_AUTO_TEST_CASE(owners_and_modes_for_several_pool_users) {
  if (::geteuid() != 0) return;
  config.application_pools.push_back(make_pool("default"));
  config.application_pools.push_back(make_pool("second"));
  config.applications.push_back(make_app("local/site"));
  config.applications.push_back(make_app("local/b", "b", "second"));
  start();
  const auto first = account_of(0), second = account_of(1);
  BOOST_TEST(first.uid != second.uid);
  check_layout({first, second});
  BOOST_TEST(get("/file.txt").body == "static file content");
  BOOST_TEST(get("/b/x.txt").body == "pool b");
  // A restart applies it again: the same layout, no entry piled up, no owner
  // changed. (Files the pools made since may gain the rights their create
  // mode masked: folder_access_test.cpp.)
  auto owners_and_entries = [&] {
    auto all = fingerprint(task_dir);
    for (auto& [path, text] : all) text = text.substr(text.find(' ') + 1);
    return all;
  };
  const auto before = owners_and_entries();
  BOOST_TEST(!run([&](completion done) { web->stop(std::chrono::seconds(5), "", done); }));
  BOOST_TEST(!run([&](completion done) { web->start(done); }));
  remember();
  const auto after = owners_and_entries();
  for (const auto& [path, text] : after) {
    const auto was = before.find(path);
    BOOST_TEST(
        (was != before.end() && was->second == text),
        path << ": " << (was == before.end() ? std::string("new") : was->second) << " -> " << text);
  }
  BOOST_TEST(after.size() == before.size());
  check_layout({first, second});
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
