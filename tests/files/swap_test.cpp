#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <acl/libacl.h>
#include <fcntl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/beneath.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/remove.hpp"
#include "iis/files/swap.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::files;
using namespace nomad_iis::http::test;
using nomad_iis::open_directory;
using nomad_iis::unique_fd;

namespace {

std::vector<std::string> staging_names(const std::string& dir) {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    auto n = e.path().filename().string();
    if (n.rfind(".nomad-iis-staging-", 0) == 0) names.push_back(n);
  }
  return names;
}

/// The entry `name` of the folder `dir`, held as the resolver holds it.
held_entry hold(const std::string& dir, const std::string& name) {
  held_entry e;
  e.dir = open_directory(dir);
  e.name = name;
  e.fd.reset(::openat(e.dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  ::fstatat(e.dir.get(), name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW);
  return e;
}

/// The permissions of the ACL entry for user 12345 on `path` ("" when none).
std::string named_user_entry(const std::string& path, acl_type_t type) {
  acl_t acl = ::acl_get_file(path.c_str(), type);
  if (!acl) return {};
  std::string found;
  acl_entry_t entry;
  for (int which = ACL_FIRST_ENTRY; ::acl_get_entry(acl, which, &entry) == 1;
       which = ACL_NEXT_ENTRY) {
    acl_tag_t tag;
    ::acl_get_tag_type(entry, &tag);
    if (tag != ACL_USER) continue;
    auto* uid = static_cast<uid_t*>(::acl_get_qualifier(entry));
    if (uid && *uid == 12345) {
      acl_permset_t perms;
      ::acl_get_permset(entry, &perms);
      found = std::string(::acl_get_perm(perms, ACL_READ) ? "r" : "-") +
              (::acl_get_perm(perms, ACL_WRITE) ? "w" : "-") +
              (::acl_get_perm(perms, ACL_EXECUTE) ? "x" : "-");
    }
    ::acl_free(uid);
  }
  ::acl_free(acl);
  return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(atomic_swap)

BOOST_AUTO_TEST_CASE(staging_dir_is_beside_the_target_and_removed) {
  temp_dir t;
  std::filesystem::create_directories(t / "site/local");
  auto local = open_directory(t / "site/local");
  {
    staging_dir s(local.get());
    auto names = staging_names(t / "site/local");
    BOOST_REQUIRE(names.size() == 1u);
    struct stat st {};
    BOOST_REQUIRE(::stat((t / "site/local/" + names[0]).c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0700u);
    BOOST_TEST(st.st_uid == ::geteuid());
    BOOST_TEST(is_live_staging(file_id::of(st)));
    auto sub = s.make_dir("x", 0755);
    BOOST_TEST(::mkdirat(sub.get(), "y", 0755) == 0);
    auto f = s.create_file("data", 0644);
    BOOST_TEST(::write(f.get(), "abc", 3) == 3);
    // Created exclusively, never through a link.
    BOOST_REQUIRE(::symlinkat((t / "outside").c_str(), s.fd(), "link") == 0);
    BOOST_CHECK_THROW(s.create_file("link", 0644), file_error);
    BOOST_CHECK_THROW(s.create_file("data", 0644), file_error);
  }
  BOOST_TEST(staging_names(t / "site/local").empty());
  BOOST_TEST(!std::filesystem::exists(t / "outside"));
}

BOOST_AUTO_TEST_CASE(staging_dir_is_removed_when_renamed_meanwhile) {
  temp_dir t;
  std::filesystem::create_directories(t / "site/local");
  write_file(t / "site/local/keep.txt", "keep");
  auto local = open_directory(t / "site/local");
  {
    staging_dir s(local.get());
    s.create_file("upload", 0644);
    auto names = staging_names(t / "site/local");
    BOOST_REQUIRE(names.size() == 1u);
    BOOST_REQUIRE(
        ::rename((t / "site/local/" + names[0]).c_str(), (t / "site/local/renamed").c_str()) == 0);
    // A decoy under the old name is not ours to remove.
    BOOST_REQUIRE(::mkdir((t / "site/local/" + names[0]).c_str(), 0755) == 0);
    write_file(t / "site/local/" + names[0] + "/decoy", "decoy");
  }
  BOOST_TEST(!std::filesystem::exists(t / "site/local/renamed"));
  BOOST_TEST(staging_names(t / "site/local").size() == 1u);  // the decoy stays
  BOOST_TEST(read_file(t / "site/local/keep.txt") == "keep");
}

BOOST_AUTO_TEST_CASE(swap_exchanges_or_creates) {
  temp_dir t;
  write_file(t / "dir/old/a.txt", "old");
  auto dir = open_directory(t / "dir");
  staging_dir s(dir.get());
  auto n = s.make_dir("new", 0755);
  BOOST_REQUIRE(::close(::openat(n.get(), "b.txt", O_CREAT | O_WRONLY, 0644)) == 0);
  swap_into_place(s.fd(), "new", dir.get(), "old", true, "aside");
  BOOST_TEST(std::filesystem::exists(t / "dir/old/b.txt"));
  BOOST_TEST(!std::filesystem::exists(t / "dir/old/a.txt"));
  // The old tree is now in staging under the staged name.
  struct stat st {};
  BOOST_TEST(::fstatat(s.fd(), "new/a.txt", &st, AT_SYMLINK_NOFOLLOW) == 0);

  s.make_dir("fresh", 0755);
  swap_into_place(s.fd(), "fresh", dir.get(), "made", true, "aside2");
  BOOST_TEST(std::filesystem::is_directory(t / "dir/made"));

  write_file(t / "dir/f1", "one");
  auto f = s.create_file("f2", 0644);
  BOOST_REQUIRE(::write(f.get(), "two", 3) == 3);
  swap_into_place(s.fd(), "f2", dir.get(), "f1", false, "aside3");
  BOOST_TEST(read_file(t / "dir/f1") == "two");
}

BOOST_AUTO_TEST_CASE(swap_refuses_a_changed_type_and_links) {
  temp_dir t;
  write_file(t / "outside/x", "outside");
  std::filesystem::create_directories(t / "dir");
  BOOST_REQUIRE(::symlink((t / "outside").c_str(), (t / "dir/target").c_str()) == 0);
  auto dir = open_directory(t / "dir");
  staging_dir s(dir.get());
  s.make_dir("new", 0755);
  BOOST_CHECK_THROW(swap_into_place(s.fd(), "new", dir.get(), "target", true, "aside"), file_error);
  write_file(t / "dir/file", "x");
  BOOST_CHECK_THROW(swap_into_place(s.fd(), "new", dir.get(), "file", true, "aside"), file_error);
  BOOST_TEST(read_file(t / "outside/x") == "outside");
  BOOST_TEST(std::filesystem::is_symlink(t / "dir/target"));
}

BOOST_AUTO_TEST_CASE(merge_links_keeps_old_entries_staged_win) {
  temp_dir t;
  write_file(t / "old/keep.txt", "keep");
  write_file(t / "old/replace.txt", "old");
  write_file(t / "old/dir/inner.txt", "inner");
  write_file(t / "old/dirfile/x", "x");  // a folder the upload replaces by a file
  ::chmod((t / "old/dir").c_str(), 0750);
  BOOST_REQUIRE(::symlink("keep.txt", (t / "old/link").c_str()) == 0);
  write_file(t / "staged/replace.txt", "new");
  write_file(t / "staged/dir/added.txt", "added");
  write_file(t / "staged/dirfile", "now a file");
  {
    auto old_fd = open_directory(t / "old");
    auto staged_fd = open_directory(t / "staged");
    merge_links(old_fd.get(), staged_fd.get());
  }
  BOOST_TEST(read_file(t / "staged/keep.txt") == "keep");
  BOOST_TEST(read_file(t / "staged/replace.txt") == "new");
  BOOST_TEST(read_file(t / "staged/dir/inner.txt") == "inner");
  BOOST_TEST(read_file(t / "staged/dir/added.txt") == "added");
  BOOST_TEST(read_file(t / "staged/dirfile") == "now a file");
  BOOST_TEST(std::filesystem::is_symlink(t / "staged/link"));
  struct stat a {
  }, b{};
  ::stat((t / "old/keep.txt").c_str(), &a);
  ::stat((t / "staged/keep.txt").c_str(), &b);
  BOOST_TEST(a.st_ino == b.st_ino);  // a hard link, not a copy
  // The old tree is untouched.
  BOOST_TEST(read_file(t / "old/replace.txt") == "old");
  BOOST_TEST(!std::filesystem::exists(t / "old/dir/added.txt"));
}

BOOST_AUTO_TEST_CASE(merge_never_enters_a_link) {
  temp_dir t;
  write_file(t / "outside/secret", "secret");
  write_file(t / "old/a.txt", "a");
  BOOST_REQUIRE(::symlink((t / "outside").c_str(), (t / "old/out").c_str()) == 0);
  std::filesystem::create_directories(t / "staged");
  auto old_fd = open_directory(t / "old");
  auto staged_fd = open_directory(t / "staged");
  merge_links(old_fd.get(), staged_fd.get());
  BOOST_TEST(std::filesystem::is_symlink(t / "staged/out"));  // copied as a link
  BOOST_TEST(!std::filesystem::exists(t / "staged/secret"));
}

BOOST_AUTO_TEST_CASE(ownership_follows_what_is_replaced) {
  temp_dir t;
  write_file(t / "dir/f", "x");
  ::chmod((t / "dir/f").c_str(), 0640);
  struct stat st {};
  auto own = ownership_of(hold(t / "dir", "f"));
  BOOST_TEST(own.mode == 0640u);
  auto dir = open_directory(t / "dir");
  auto fresh = ownership_in(dir.get(), 0644);
  BOOST_TEST(fresh.mode == 0644u);
  ::stat((t / "dir").c_str(), &st);
  BOOST_TEST(fresh.uid == st.st_uid);
  // Applied through descriptors: the tree gets the owner, the top the mode.
  write_file(t / "dir/tree/a/b", "b");
  BOOST_REQUIRE(::symlink("/etc/passwd", (t / "dir/tree/link").c_str()) == 0);
  struct stat passwd_before {};
  ::stat("/etc/passwd", &passwd_before);
  apply_ownership(dir.get(), "tree", {1234, 4321, 0751, {}, {}});
  ::lstat((t / "dir/tree").c_str(), &st);
  BOOST_TEST((st.st_mode & 07777) == 0751u);
  if (::geteuid() == 0) {
    BOOST_TEST(st.st_uid == 1234u);
    ::lstat((t / "dir/tree/a/b").c_str(), &st);
    BOOST_TEST(st.st_uid == 1234u);
    ::lstat((t / "dir/tree/link").c_str(), &st);
    BOOST_TEST(st.st_uid == 1234u);  // the link itself
  }
  struct stat passwd_after {};
  ::stat("/etc/passwd", &passwd_after);
  BOOST_TEST(passwd_after.st_uid == passwd_before.st_uid);  // never its target
  BOOST_TEST(passwd_after.st_mode == passwd_before.st_mode);
}

/// A replaced folder's ACLs (the pools' users' rights) go to its
/// replacement, and what is created in the replacement inherits them.
BOOST_AUTO_TEST_CASE(acls_follow_what_is_replaced) {
  if (::geteuid() != 0) return;  // only root sets ACLs for others
  temp_dir t;
  std::filesystem::create_directories(t / "site");
  const std::string site = t / "site";
  for (auto type : {ACL_TYPE_ACCESS, ACL_TYPE_DEFAULT}) {
    acl_t acl = ::acl_from_text("u::rwx,u:12345:rwx,g::r-x,m::rwx,o::---");
    BOOST_REQUIRE(acl);
    BOOST_REQUIRE(::acl_set_file(site.c_str(), type, acl) == 0);
    ::acl_free(acl);
  }
  const auto own = ownership_of(hold(t.path, "site"));
  BOOST_TEST(!own.acl_access.empty());
  BOOST_TEST(!own.acl_default.empty());

  auto parent = open_directory(t.path);
  BOOST_REQUIRE(::mkdirat(parent.get(), "new", 0755) == 0);
  {
    unique_fd fresh(::openat(parent.get(), "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    apply_acls(fresh.get(), own);
    ::close(::openat(fresh.get(), "page.html", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  }
  BOOST_TEST(named_user_entry(t / "new", ACL_TYPE_ACCESS) == "rwx");
  BOOST_TEST(named_user_entry(t / "new", ACL_TYPE_DEFAULT) == "rwx");
  BOOST_TEST(named_user_entry(t / "new/page.html", ACL_TYPE_ACCESS) == "rwx");  // inherited

  // An emptied folder keeps them too.
  BOOST_REQUIRE(::mkdirat(parent.get(), "empty", 0700) == 0);
  apply_ownership(parent.get(), "empty", own);
  BOOST_TEST(named_user_entry(t / "empty", ACL_TYPE_ACCESS) == "rwx");
  struct stat st {};
  ::stat((t / "empty").c_str(), &st);
  BOOST_TEST((st.st_mode & 0777) == (own.mode & 0777));
}

BOOST_AUTO_TEST_CASE(clean_suffixes) {
  std::string p = "local/x/*";
  BOOST_TEST(strip_clean_suffix(p));
  BOOST_TEST(p == "local/x");
  p = "local/x/*.*";
  BOOST_TEST(strip_clean_suffix(p));
  BOOST_TEST(p == "local/x");
  p = "local/x";
  BOOST_TEST(!strip_clean_suffix(p));
  p = "local/x*";
  BOOST_TEST(!strip_clean_suffix(p));
  p = "*";
  BOOST_TEST(strip_clean_suffix(p));
  BOOST_TEST(p.empty());
}

BOOST_AUTO_TEST_SUITE_END()
