#include "iis/files/swap.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "common/beneath.hpp"
#include "iis/files/file_error.hpp"

namespace nomad_iis::files {
namespace {

/// Folder levels a merge descends (the walks' limit too).
constexpr int max_merge_depth = 256;

file_error fs_failure(const std::string& what, int err) {
  return internal_error("filesystem_error", what + ": " + std::strerror(err));
}

struct live_stagings {
  std::mutex mutex;
  std::vector<file_id> ids;
};

live_stagings& stagings() {
  static live_stagings s;
  return s;
}

void register_staging(const file_id& id) {
  std::lock_guard<std::mutex> lock(stagings().mutex);
  stagings().ids.push_back(id);
}

void unregister_staging(const file_id& id) {
  std::lock_guard<std::mutex> lock(stagings().mutex);
  auto& ids = stagings().ids;
  auto it = std::find(ids.begin(), ids.end(), id);
  if (it != ids.end()) ids.erase(it);
}

std::string random_suffix() {
  static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s(6, 'x');
  for (auto& c : s) c = chars[rng() % (sizeof chars - 1)];
  return s;
}

/// The names in the folder `fd` (without "." and "..").
std::vector<std::string> names_in(int fd) {
  std::vector<std::string> names;
  unique_fd copy(::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* dir = copy ? ::fdopendir(copy.get()) : nullptr;
  if (!dir) return names;
  copy.release();
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
  while (const dirent* ent = ::readdir(dir)) {
    const std::string name = ent->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  return names;
}

/// A freshly made staging folder: ours (plugin-owned, 0700), empty, and not
/// another change's (the app can rename one of those to our name).
bool is_fresh(int fd, const struct stat& st) {
  return S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 07777) == 0700 &&
         !is_live_staging(file_id::of(st)) && names_in(fd).empty();
}

}  // namespace

bool is_live_staging(const file_id& id) {
  std::lock_guard<std::mutex> lock(stagings().mutex);
  const auto& ids = stagings().ids;
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

staging_dir::staging_dir(int parent_fd) {
  parent_ = unique_fd(::fcntl(parent_fd, F_DUPFD_CLOEXEC, 0));
  if (!parent_) throw fs_failure("dup", errno);
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::string name = std::string(staging_prefix) + random_suffix();
    if (::mkdirat(parent_.get(), name.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;
      throw fs_failure("cannot create a staging directory", errno);
    }
    unique_fd fd(
        ::openat(parent_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || !is_fresh(fd.get(), st))
      continue;  // replaced before we opened it: that one is not ours to use or remove
    fd_ = std::move(fd);
    name_ = std::move(name);
    id_ = file_id::of(st);
    register_staging(id_);
    return;
  }
  throw internal_error("filesystem_error", "cannot create a staging directory");
}

staging_dir::~staging_dir() {
  for (const auto& name : names_in(fd_.get())) remove_beneath(fd_.get(), name);
  // The folder itself, found by identity: the app may have renamed it (only
  // within its folder: moving it elsewhere needs write access to it).
  struct stat st {};
  std::string name = name_;
  if (::fstatat(parent_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      file_id::of(st) != id_) {
    name.clear();
    for (const auto& other : names_in(parent_.get()))
      if (::fstatat(parent_.get(), other.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          file_id::of(st) == id_) {
        name = other;
        break;
      }
  }
  if (!name.empty()) ::unlinkat(parent_.get(), name.c_str(), AT_REMOVEDIR);
  unregister_staging(id_);
}

unique_fd staging_dir::create_file(const std::string& name, mode_t mode) const {
  unique_fd fd(
      ::openat(fd_.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) throw fs_failure("staging failed", errno);
  return fd;
}

unique_fd staging_dir::make_dir(const std::string& name, mode_t mode) const {
  if (::mkdirat(fd_.get(), name.c_str(), mode) != 0) throw fs_failure("staging failed", errno);
  unique_fd fd(::openat(fd_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw fs_failure("staging failed", errno);
  return fd;
}

namespace {

constexpr const char* acl_access_xattr = "system.posix_acl_access";
constexpr const char* acl_default_xattr = "system.posix_acl_default";

/// The raw value of `name` on `fd`, "" when it has none (or no ACL support).
std::string read_xattr(int fd, const char* name) {
  std::string value(256, '\0');
  for (;;) {
    const ssize_t n = ::fgetxattr(fd, name, value.data(), value.size());
    if (n >= 0) return value.substr(0, static_cast<std::size_t>(n));
    if (errno != ERANGE || value.size() >= (64u << 10)) return {};
    value.resize(value.size() * 4);
  }
}

}  // namespace

ownership ownership_of(const held_entry& entry) {
  ownership own{
      entry.st.st_uid, entry.st.st_gid, static_cast<mode_t>(entry.st.st_mode & 07777), {}, {}};
  if (S_ISLNK(entry.st.st_mode) || !entry.dir) return own;
  // entry.fd is O_PATH, which reads no xattrs: open the name again and keep
  // it only if it is still the same object.
  const unique_fd fd(::openat(entry.dir.get(), entry.name.c_str(),
                              O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_dev != entry.st.st_dev ||
      st.st_ino != entry.st.st_ino)
    return own;
  own.acl_access = read_xattr(fd.get(), acl_access_xattr);
  if (S_ISDIR(st.st_mode)) own.acl_default = read_xattr(fd.get(), acl_default_xattr);
  return own;
}

void apply_acls(int fd, const ownership& own) {
  if (::geteuid() != 0) return;
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fs_failure("fstat", errno);
  if (!own.acl_access.empty() &&
      ::fsetxattr(fd, acl_access_xattr, own.acl_access.data(), own.acl_access.size(), 0) != 0)
    throw fs_failure("setting the ACL", errno);
  if (S_ISDIR(st.st_mode) && !own.acl_default.empty() &&
      ::fsetxattr(fd, acl_default_xattr, own.acl_default.data(), own.acl_default.size(), 0) != 0)
    throw fs_failure("setting the default ACL", errno);
}

ownership ownership_in(int dir_fd, mode_t mode) {
  struct stat st {};
  if (::fstat(dir_fd, &st) != 0) throw fs_failure("fstat", errno);
  return {st.st_uid, st.st_gid, mode, {}, {}};
}

void apply_ownership(int dir_fd, const std::string& name, const ownership& own) {
  unique_fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) throw fs_failure("chown " + name, errno);
  if (::geteuid() == 0) {
    if (S_ISDIR(st.st_mode)) {
      walk_beneath(fd.get(), [&](const walk_entry& e) {
        if (::fchownat(e.parent_fd, e.name, own.uid, own.gid, AT_SYMLINK_NOFOLLOW) != 0)
          throw fs_failure(std::string("chown ") + e.name, errno);
        return walk_step::enter;
      });
    } else if (::fchown(fd.get(), own.uid, own.gid) != 0) {
      throw fs_failure("chown " + name, errno);
    }
  }
  if (::fchmod(fd.get(), own.mode) != 0) throw fs_failure("chmod " + name, errno);
  apply_acls(fd.get(), own);
}

void swap_into_place(int staging_fd, const std::string& staged, int dir_fd, const std::string& name,
                     bool expect_dir, const std::string& aside) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) throw fs_failure("examining the target", errno);
    if (::renameat2(staging_fd, staged.c_str(), dir_fd, name.c_str(), RENAME_NOREPLACE) == 0)
      return;
    if (errno == EEXIST) throw conflict("changed", "the target appeared during the change");
    if (errno != EINVAL || ::renameat(staging_fd, staged.c_str(), dir_fd, name.c_str()) != 0)
      throw fs_failure("moving into place", errno);
    return;
  }
  if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode) != expect_dir)
    throw conflict("type_changed", "the target changed type during the change");
  if (::renameat2(dir_fd, name.c_str(), staging_fd, staged.c_str(), RENAME_EXCHANGE) == 0) return;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    throw fs_failure("exchanging the target", errno);
  // No RENAME_EXCHANGE here: two renames, the target missing in between.
  if (::renameat(dir_fd, name.c_str(), staging_fd, aside.c_str()) != 0)
    throw fs_failure("moving the target aside", errno);
  if (::renameat(staging_fd, staged.c_str(), dir_fd, name.c_str()) != 0) {
    const int err = errno;
    ::renameat(staging_fd, aside.c_str(), dir_fd, name.c_str());
    throw fs_failure("moving into place", err);
  }
}

namespace {

void merge_level(int old_fd, int staged_fd, int depth) {
  if (depth >= max_merge_depth)
    throw conflict("too_deep", "the folder is nested too deeply to merge an upload into it");
  for (const auto& name : names_in(old_fd)) {
    struct stat os {};
    if (::fstatat(old_fd, name.c_str(), &os, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    struct stat ss {};
    const bool have = ::fstatat(staged_fd, name.c_str(), &ss, AT_SYMLINK_NOFOLLOW) == 0;
    if (S_ISDIR(os.st_mode)) {
      if (have && !S_ISDIR(ss.st_mode)) continue;  // a staged file replaces the old folder
      unique_fd from(
          ::openat(old_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      struct stat fs {};
      if (!from || ::fstat(from.get(), &fs) != 0 || file_id::of(fs) != file_id::of(os))
        continue;  // replaced since it was listed: not what we merge
      if (!have && ::mkdirat(staged_fd, name.c_str(), 0700) != 0)
        throw fs_failure("mkdir " + name, errno);
      unique_fd to(
          ::openat(staged_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!to) throw fs_failure("open " + name, errno);
      if (!have) {
        if (::geteuid() == 0 && ::fchown(to.get(), os.st_uid, os.st_gid) != 0)
          throw fs_failure("chown " + name, errno);
        if (::fchmod(to.get(), os.st_mode & 07777) != 0) throw fs_failure("chmod " + name, errno);
      }
      merge_level(from.get(), to.get(), depth + 1);
      continue;
    }
    if (have) continue;  // the staged entry wins
    if (S_ISLNK(os.st_mode)) {
      std::string text(PATH_MAX, '\0');
      auto n = ::readlinkat(old_fd, name.c_str(), text.data(), text.size());
      if (n < 0 || static_cast<std::size_t>(n) >= text.size()) continue;
      text.resize(static_cast<std::size_t>(n));
      if (::symlinkat(text.c_str(), staged_fd, name.c_str()) != 0)
        throw fs_failure("symlink " + name, errno);
      if (::geteuid() == 0)
        ::fchownat(staged_fd, name.c_str(), os.st_uid, os.st_gid, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISREG(os.st_mode)) {
      if (::linkat(old_fd, name.c_str(), staged_fd, name.c_str(), 0) != 0 && errno != ENOENT)
        throw fs_failure("link " + name, errno);
    }
    // sockets, fifos and devices are not carried over
  }
}

}  // namespace

void merge_links(int old_fd, int staged_fd) {
  merge_level(old_fd, staged_fd, 0);
}

}  // namespace nomad_iis::files
