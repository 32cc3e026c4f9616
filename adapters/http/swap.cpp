#include "adapters/http/swap.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "adapters/http/http_error.hpp"

namespace nomad_iis::http {
namespace {

struct dir_closer {
  void operator()(DIR* d) const { ::closedir(d); }
};

http_error fs_failure(const std::string& what, int err) {
  return http_error(500, "filesystem_error", what + ": " + std::strerror(err));
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string nearest_existing(std::string path) {
  struct stat st {};
  while (::lstat(path.c_str(), &st) != 0 && path != "/") path = parent_of(path);
  return path;
}

}  // namespace

staging_dir::staging_dir(const std::string& target) {
  auto base = nearest_existing(parent_of(target));
  std::string tmpl = base + "/.nomad-iis-staging-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw fs_failure("cannot create a staging directory in " + base, errno);
  path_ = buf.data();
}

staging_dir::~staging_dir() {
  remove_tree(path_);
}

ownership ownership_for(const std::string& path, mode_t fallback_mode) {
  ownership own;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    own.uid = st.st_uid;
    own.gid = st.st_gid;
    own.mode = st.st_mode & 07777;
    return own;
  }
  auto anc = nearest_existing(parent_of(path));
  if (::stat(anc.c_str(), &st) == 0) {
    own.uid = st.st_uid;
    own.gid = st.st_gid;
  }
  own.mode = fallback_mode;
  return own;
}

void apply_ownership(const std::string& root, const ownership& own) {
  if (::geteuid() == 0) {
    if (::lchown(root.c_str(), own.uid, own.gid) != 0) throw fs_failure("chown " + root, errno);
    struct stat st {};
    if (::lstat(root.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (::lchown(it->path().c_str(), own.uid, own.gid) != 0) throw fs_failure("chown", errno);
      }
    }
  }
  if (::chmod(root.c_str(), own.mode) != 0) throw fs_failure("chmod " + root, errno);
}

void make_parents(const std::string& path) {
  auto parent = parent_of(path);
  struct stat st {};
  if (::lstat(parent.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      throw conflict("not_a_directory", "a parent of the target is not a directory");
    return;
  }
  make_parents(parent);
  auto own = ownership_for(parent, 0755);
  if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
    throw fs_failure("mkdir " + parent, errno);
  if (::geteuid() == 0 && ::lchown(parent.c_str(), own.uid, own.gid) != 0)
    throw fs_failure("chown", errno);
}

void swap_into_place(const std::string& staged, const std::string& target,
                     const std::string& aside) {
  struct stat st {};
  if (::lstat(target.c_str(), &st) != 0) {
    make_parents(target);
    if (::rename(staged.c_str(), target.c_str()) != 0)
      throw fs_failure("rename into " + target, errno);
    return;
  }
  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) return;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    throw fs_failure("exchanging " + target, errno);
  // No RENAME_EXCHANGE here: two renames, the target missing in between.
  if (::rename(target.c_str(), aside.c_str()) != 0)
    throw fs_failure("moving " + target + " aside", errno);
  if (::rename(staged.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::rename(aside.c_str(), target.c_str());
    throw fs_failure("rename into " + target, err);
  }
}

void merge_links(const std::string& old_dir, const std::string& staged) {
  std::unique_ptr<DIR, dir_closer> dir(::opendir(old_dir.c_str()));
  if (!dir) throw fs_failure("reading " + old_dir, errno);
  while (auto* ent = ::readdir(dir.get())) {
    std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    std::string from = old_dir + "/" + name, to = staged + "/" + name;
    struct stat os {
    }, ss{};
    if (::lstat(from.c_str(), &os) != 0) continue;  // vanished meanwhile
    bool have = ::lstat(to.c_str(), &ss) == 0;
    if (S_ISDIR(os.st_mode)) {
      if (!have) {
        if (::mkdir(to.c_str(), os.st_mode & 07777) != 0) throw fs_failure("mkdir " + to, errno);
        if (::geteuid() == 0) ::lchown(to.c_str(), os.st_uid, os.st_gid);
        ::chmod(to.c_str(), os.st_mode & 07777);
        merge_links(from, to);
      } else if (S_ISDIR(ss.st_mode)) {
        merge_links(from, to);
      }
      continue;  // a staged file replaces the old folder
    }
    if (have) continue;  // the staged entry wins
    if (S_ISLNK(os.st_mode)) {
      std::vector<char> link(static_cast<std::size_t>(os.st_size) + 1);
      auto n = ::readlink(from.c_str(), link.data(), link.size());
      if (n < 0) continue;
      if (::symlink(std::string(link.data(), static_cast<std::size_t>(n)).c_str(), to.c_str()) != 0)
        throw fs_failure("symlink " + to, errno);
      if (::geteuid() == 0) ::lchown(to.c_str(), os.st_uid, os.st_gid);
    } else if (S_ISREG(os.st_mode)) {
      if (::link(from.c_str(), to.c_str()) != 0) throw fs_failure("link " + to, errno);
    }
    // sockets, fifos and devices are not carried over
  }
}

void remove_tree(const std::string& path) noexcept {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace nomad_iis::http
