#include "iis/site_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "iis/process.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

}  // namespace

void make_dir(const std::string& path, unsigned mode) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) throw std::runtime_error("create " + path + ": " + error.message());
  if (::chmod(path.c_str(), mode) != 0) {
    throw std::runtime_error("chmod " + path + ": " + std::strerror(errno));
  }
}

namespace {

bool is_within(const fs::path& path, const fs::path& root) {
  const auto relative = path.lexically_relative(root);
  return !relative.empty() && *relative.begin() != "..";
}

/// Calls `visit` for `root` and everything below it, without following
/// symlinks and without entering `skip` folders.
template <typename Visit>
void walk(const fs::path& root, const std::set<fs::path>& skip, Visit visit) {
  std::error_code error;
  if (!fs::exists(fs::symlink_status(root, error))) return;
  visit(root, fs::symlink_status(root, error));
  if (!fs::is_directory(fs::symlink_status(root, error))) return;
  for (auto it = fs::recursive_directory_iterator(root, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (skip.count(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    visit(it->path(), it->symlink_status(error));
  }
}

/// Adds execute (search) permission for group and others to every folder
/// from `top` down to `path`, so another user can reach `path`.
void make_traversable(const fs::path& path, const fs::path& top) {
  for (fs::path current = path; is_within(current, top); current = current.parent_path()) {
    if (current == top) break;
    struct stat st {};
    if (::lstat(current.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      ::chmod(current.c_str(), (st.st_mode & 07777) | S_IXGRP | S_IXOTH);
    }
    if (current == current.parent_path()) break;
  }
}

}  // namespace

void create_site_dirs(const site_plan& plan) {
  const fs::path data_dir(plan.data_dir);
  // The sites/ folder and the data dir root must be traversable too.
  for (fs::path parent : {data_dir.parent_path().parent_path(), data_dir.parent_path()}) {
    std::error_code error;
    if (!fs::exists(parent, error)) {
      make_dir(parent.string(), 0711);
    } else if (::geteuid() == 0) {
      // nginx workers (another user) write temp files below: they must pass through.
      struct stat st {};
      if (::stat(parent.c_str(), &st) == 0) {
        ::chmod(parent.c_str(), (st.st_mode & 07777) | S_IXGRP | S_IXOTH);
      }
    }
  }
  make_dir(plan.data_dir, 0711);
  make_dir(plan.data_dir + "/run", 0711);
  make_dir(plan.data_dir + "/tmp", 0711);
  make_dir(plan.data_dir + "/logs", 0700);
  make_dir(plan.data_dir + "/certs", 0700);
  std::error_code error;
  fs::create_directories(plan.tmp_dir, error);
}

std::vector<std::string> copy_placeholder(const site_plan& plan) {
  std::vector<std::string> filled;
  if (plan.placeholder_app_path.empty()) return filled;
  std::error_code error;
  if (!fs::is_directory(plan.placeholder_app_path, error)) return filled;
  for (const auto& app : plan.applications) {
    const fs::path target(app.physical_path);
    const bool exists = fs::exists(target, error);
    if (exists && !fs::is_empty(target, error)) continue;
    fs::create_directories(target, error);
    fs::copy(plan.placeholder_app_path, target,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks |
                 fs::copy_options::overwrite_existing,
             error);
    if (error) {
      throw std::runtime_error("copy placeholder " + plan.placeholder_app_path + " to " +
                               target.string() + ": " + error.message());
    }
    filled.push_back(target.string());
  }
  return filled;
}

void apply_directory_security(const site_plan& plan) {
  if (::geteuid() != 0 || !plan.directory_security) return;
  const fs::path task_dir(plan.task_dir);
  const fs::path alloc_dir = task_dir.parent_path();
  const std::set<fs::path> skip{fs::path(plan.secrets_dir), task_dir / "private"};

  std::set<std::string> users;
  for (const auto& pool : plan.pools) {
    if (pool.run_as_user && *pool.run_as_user != "root") users.insert(*pool.run_as_user);
  }
  std::vector<fs::path> app_dirs;
  for (const auto& app : plan.applications) {
    app_dirs.emplace_back(app.physical_path);
    for (const auto& vdir : app.virtual_directories) app_dirs.emplace_back(vdir.physical_path);
  }
  make_traversable(task_dir, alloc_dir.parent_path());
  for (const auto& dir : app_dirs) make_traversable(dir, alloc_dir);
  make_traversable(fs::path(plan.tmp_dir), alloc_dir);

  if (users.size() == 1) {
    // One identity: it owns what IIS gives it full control of (local/, tmp/)
    // and its application folders.
    const auto account = find_account(*users.begin());
    if (!account) throw std::runtime_error("unknown Unix user " + *users.begin());
    std::vector<fs::path> owned = app_dirs;
    owned.push_back(task_dir / "local");
    owned.emplace_back(plan.tmp_dir);
    for (const auto& root : owned) {
      walk(root, skip, [&](const fs::path& path, const fs::file_status&) {
        ::lchown(path.c_str(), account->uid, account->gid);
      });
    }
  } else if (!users.empty()) {
    // Several identities cannot all own the folders: make the applications
    // readable and tmp/ shared like /tmp.
    for (const auto& root : app_dirs) {
      walk(root, skip, [](const fs::path& path, const fs::file_status& status) {
        if (fs::is_symlink(status)) return;
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) return;
        mode_t mode = (st.st_mode & 07777) | S_IRGRP | S_IROTH;
        if (S_ISDIR(st.st_mode) || (st.st_mode & S_IXUSR)) mode |= S_IXGRP | S_IXOTH;
        ::chmod(path.c_str(), mode);
      });
    }
    ::chmod(plan.tmp_dir.c_str(), 01777);
  }
  for (const auto& secret : skip) {
    std::error_code error;
    if (fs::is_directory(fs::symlink_status(secret, error))) ::chmod(secret.c_str(), 0700);
  }
}

void remove_tree(const std::string& path) {
  std::error_code error;
  fs::remove_all(path, error);
}

unique_fd hold_fifo_reader(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return unique_fd();
  // O_NONBLOCK: opening a FIFO for reading never waits for a writer.
  return unique_fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
}

void write_file_atomic(const std::string& path, const std::string& content, unsigned mode) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("create " + temp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(temp.c_str());
      throw std::runtime_error("write " + temp + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    throw std::runtime_error("rename " + temp + ": " + std::strerror(errno));
  }
}

}  // namespace nomad_iis::iis
