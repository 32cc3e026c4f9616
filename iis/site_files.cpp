#include "iis/site_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include "common/beneath.hpp"
#include "common/staging_name.hpp"
#include "iis/folder_access.hpp"
#include "iis/process.hpp"
#include "iis/user_access.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

std::string errno_text() {
  return std::strerror(errno);
}

/// The allocation directory and the task's directory in it, opened once.
/// The alloc dir and its parents are Nomad's (root's); the task dir's content
/// is the app's.
struct task_dirs {
  fs::path alloc_path;
  std::string task_name;
  unique_fd alloc;
  unique_fd task;
};

task_dirs open_task_dirs(const site_plan& plan) {
  task_dirs dirs;
  const fs::path task_dir(plan.task_dir);
  dirs.alloc_path = task_dir.parent_path();
  dirs.task_name = task_dir.filename().string();
  dirs.alloc = open_directory(dirs.alloc_path.string());
  if (!dirs.alloc)
    throw std::runtime_error("open " + dirs.alloc_path.string() + ": " + errno_text());
  dirs.task = open_beneath(dirs.alloc.get(), dirs.task_name, O_RDONLY | O_DIRECTORY);
  if (!dirs.task) throw std::runtime_error("open " + plan.task_dir + ": " + errno_text());
  return dirs;
}

/// `path` relative to `root` ("" for root itself); nullopt when outside.
std::optional<std::string> relative_below(const fs::path& path, const fs::path& root) {
  const auto relative = path.lexically_normal().lexically_relative(root.lexically_normal());
  if (relative.empty() || *relative.begin() == "..") return std::nullopt;
  return relative == "." ? std::string() : relative.string();
}

/// A file system object beyond renames.
struct file_id {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator<(const file_id& other) const {
    return dev != other.dev ? dev < other.dev : ino < other.ino;
  }
};

bool is_empty_dir(int fd) {
  bool empty = true;
  walk_beneath(fd, [&](const walk_entry& entry) {
    if (entry.depth > 0) empty = false;
    return entry.depth == 0 ? walk_step::enter : walk_step::skip;
  });
  return empty;
}

void copy_bytes(int from, int to, const std::string& shown) {
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("read " + shown + ": " + errno_text());
    if (n == 0) return;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(to, buffer + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw std::runtime_error("write " + shown + ": " + errno_text());
      done += w;
    }
  }
}

/// Copies the tree below `source` (the operator's placeholder folder) into
/// the folder `target` is open on: every folder and file is created anew
/// (mkdirat, O_CREAT|O_EXCL|O_NOFOLLOW), symlinks are copied as links.
void copy_tree(int source, int target, const std::string& shown) {
  std::map<std::string, unique_fd> made;  // relative path -> the copy of that folder
  walk_beneath(source, [&](const walk_entry& entry) {
    if (entry.depth == 0) return walk_step::enter;
    const auto slash = entry.relative.rfind('/');
    int into = target;
    if (slash != std::string_view::npos) {
      auto it = made.find(std::string(entry.relative.substr(0, slash)));
      if (it == made.end()) return walk_step::skip;
      into = it->second.get();
    }
    const std::string where = shown + "/" + std::string(entry.relative);
    const mode_t mode = entry.st.st_mode & 0777;
    if (S_ISDIR(entry.st.st_mode)) {
      if (::mkdirat(into, entry.name, mode | S_IRWXU) != 0 && errno != EEXIST)
        throw std::runtime_error("create " + where + ": " + errno_text());
      unique_fd dir(::openat(into, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir) throw std::runtime_error("open " + where + ": " + errno_text());
      ::fchmod(dir.get(), mode);
      made.emplace(std::string(entry.relative), std::move(dir));
      return walk_step::enter;
    }
    if (S_ISLNK(entry.st.st_mode)) {
      std::string link(static_cast<std::size_t>(entry.st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(entry.parent_fd, entry.name, link.data(), link.size());
      if (n > 0) {
        link.resize(static_cast<std::size_t>(n));
        if (::symlinkat(link.c_str(), into, entry.name) != 0 && errno != EEXIST)
          throw std::runtime_error("create " + where + ": " + errno_text());
      }
    } else if (S_ISREG(entry.st.st_mode)) {
      unique_fd in(::openat(entry.parent_fd, entry.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!in) throw std::runtime_error("open placeholder file " + where + ": " + errno_text());
      unique_fd out(
          ::openat(into, entry.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
      if (!out) throw std::runtime_error("create " + where + ": " + errno_text());
      copy_bytes(in.get(), out.get(), where);
      ::fchmod(out.get(), mode);
    }
    return walk_step::skip;
  });
}

/// What a pool's user is given on a folder below the alloc dir and on
/// everything in it.
struct grant {
  std::string relative;
  unix_account account;
  unsigned perms = 0;
};

/// Opens the folder `relative` (below `alloc`) one component at a time,
/// never through a symlink, and lets the user search each folder on the way
/// that it could not search yet. Empty when a component is missing or is no
/// folder (a note says so unless it is just missing).
unique_fd reach(int alloc, const grant& wanted, const std::string& shown,
                std::vector<std::string>& notes) {
  unique_fd current(::fcntl(alloc, F_DUPFD_CLOEXEC, 0));
  std::size_t start = 0;
  while (current) {
    if (!user_may(current.get(), wanted.account, X_OK) &&
        !grant_user_access(current.get(), wanted.account.uid, acl_execute, false)) {
      notes.push_back(shown + ": no ACL support on the way; " + wanted.account.name +
                      " was given no access");
      return unique_fd();
    }
    if (start >= wanted.relative.size()) break;
    auto end = wanted.relative.find('/', start);
    if (end == std::string::npos) end = wanted.relative.size();
    const std::string part = wanted.relative.substr(start, end - start);
    start = end + 1;
    unique_fd next = open_beneath(current.get(), part, O_RDONLY | O_DIRECTORY);
    if (!next) {
      if (errno != ENOENT) {
        notes.push_back(shown + ": \"" + part + "\" is a symlink or no folder (" + errno_text() +
                        "); symlinks are never followed, " + wanted.account.name +
                        " was given no access");
      }
      return unique_fd();
    }
    current = std::move(next);
  }
  return current;
}

/// Grants `wanted` on the folder `root` and everything in it. Symlinks,
/// special files, `protected_dirs` and files with several hard links (one
/// may be a file from outside the task) are left alone.
void grant_tree(int root, const grant& wanted, const std::set<file_id>& protected_dirs,
                const std::string& shown, std::vector<std::string>& notes) {
  bool supported = true;
  std::size_t linked = 0;
  walk_beneath(root, [&](const walk_entry& entry) {
    const bool dir = S_ISDIR(entry.st.st_mode);
    if (!supported || (!dir && !S_ISREG(entry.st.st_mode))) return walk_step::skip;
    if (dir && protected_dirs.count(file_id{entry.st.st_dev, entry.st.st_ino}))
      return walk_step::skip;
    if (dir && entry.depth > 0 && is_staging_name(entry.name)) return walk_step::skip;
    if (!dir && entry.st.st_nlink > 1) {
      ++linked;
      return walk_step::skip;
    }
    unique_fd own;
    int fd = entry.parent_fd;  // the root itself at depth 0
    if (entry.depth > 0) {
      own.reset(::openat(
          entry.parent_fd, entry.name,
          O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | (dir ? O_DIRECTORY : O_NONBLOCK)));
      struct stat st {};
      if (!own || ::fstat(own.get(), &st) != 0 || st.st_ino != entry.st.st_ino ||
          st.st_dev != entry.st.st_dev)
        return walk_step::skip;  // replaced since the walk saw it
      fd = own.get();
    }
    unsigned perms = wanted.perms;
    if (!dir) {
      perms &= acl_read | acl_write;
      if (entry.st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) perms |= acl_execute;
    }
    if (!grant_user_access(fd, wanted.account.uid, perms, dir)) {
      supported = false;
      notes.push_back(shown + ": the file system has no ACLs; " + wanted.account.name +
                      " was given no access");
      return walk_step::skip;
    }
    return walk_step::enter;
  });
  if (linked > 0) {
    notes.push_back(shown + ": " + std::to_string(linked) +
                    " file(s) with several hard links left alone (" + wanted.account.name +
                    " was given no access to them)");
  }
}

/// Nomad makes the task dir, local/ and tmp/ 0777 (owner nobody), so any
/// local user, another task's pool among them, could add, rename or remove
/// entries there. Other users lose every right on them; the pools' users
/// get theirs back as named ACL entries (the grants), as in IIS.
void close_to_others(const task_dirs& dirs, const site_plan& plan,
                     const std::set<file_id>& protected_dirs) {
  std::vector<std::string> folders{"", "local"};
  if (auto tmp = relative_below(plan.tmp_dir, plan.task_dir); tmp && !tmp->empty())
    folders.push_back(*tmp);
  for (const auto& folder : folders) {
    const unique_fd fd = open_beneath(dirs.task.get(), folder, O_RDONLY | O_DIRECTORY);
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) continue;  // missing, or a link: never followed
    if (protected_dirs.count(file_id{st.st_dev, st.st_ino})) continue;
    if (st.st_mode & S_IRWXO) ::fchmod(fd.get(), st.st_mode & 07777 & ~S_IRWXO);
  }
}

}  // namespace

void make_dir(const std::string& path, unsigned mode) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) throw std::runtime_error("create " + path + ": " + error.message());
  if (::chmod(path.c_str(), mode) != 0) {
    throw std::runtime_error("chmod " + path + ": " + std::strerror(errno));
  }
}

void create_site_dirs(const site_plan& plan) {
  const fs::path data_dir(plan.data_dir);
  // The sites/ folder and the data dir root must be traversable too. They
  // are the driver's own (data_dir), never below a task.
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
  // The task's tmp/ (Nomad makes it; a missing one is made here).
  const auto tmp = relative_below(plan.tmp_dir, plan.task_dir);
  if (!tmp || tmp->empty()) return;
  try {
    const auto dirs = open_task_dirs(plan);
    if (!open_beneath(dirs.task.get(), *tmp, O_RDONLY | O_DIRECTORY) && errno == ENOENT) {
      make_dirs_beneath(dirs.task.get(), *tmp, 0755);
    }
  } catch (const std::exception&) {
    // No task dir to put it in: the pools find TMP missing, as before.
  }
}

std::vector<std::string> copy_placeholder(const site_plan& plan) {
  std::vector<std::string> filled;
  if (plan.placeholder_app_path.empty() || plan.applications.empty()) return filled;
  const unique_fd source = open_directory(plan.placeholder_app_path);
  if (!source) return filled;
  const auto dirs = open_task_dirs(plan);
  for (const auto& app : plan.applications) {
    const auto relative = relative_below(app.physical_path, dirs.alloc_path);
    if (!relative || relative->empty()) continue;  // a host folder is served as it is
    unique_fd target = open_beneath(dirs.alloc.get(), *relative, O_RDONLY | O_DIRECTORY);
    if (!target && errno == ENOENT) {
      target = make_dirs_beneath(dirs.alloc.get(), *relative, 0755);
      if (!target) {
        throw std::runtime_error("create " + app.physical_path + ": " + errno_text());
      }
    } else if (!target || !is_empty_dir(target.get())) {
      continue;  // filled, or a symlink or file: never followed, never filled
    }
    try {
      copy_tree(source.get(), target.get(), app.physical_path);
    } catch (const std::exception& e) {
      throw std::runtime_error("copy placeholder " + plan.placeholder_app_path + " to " +
                               app.physical_path + ": " + e.what());
    }
    filled.push_back(app.physical_path);
  }
  return filled;
}

std::vector<std::string> apply_directory_security(const site_plan& plan) {
  std::vector<std::string> notes;
  if (::geteuid() != 0 || !plan.directory_security) return notes;
  const auto dirs = open_task_dirs(plan);

  // secrets/ and private/ stay the task's own (root) and are never walked.
  std::set<file_id> protected_dirs;
  for (const char* name : {"secrets", "private"}) {
    const unique_fd fd = open_beneath(dirs.task.get(), name, O_RDONLY | O_DIRECTORY);
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) continue;  // missing, or a link: never followed
    ::fchmod(fd.get(), 0700);
    protected_dirs.insert(file_id{st.st_dev, st.st_ino});
  }

  close_to_others(dirs, plan, protected_dirs);

  std::map<std::string, unix_account> accounts;  // by pool name
  for (const auto& pool : plan.pools) {
    if (!pool.run_as_user || *pool.run_as_user == "root") continue;
    auto account = find_account(*pool.run_as_user);
    if (!account) throw std::runtime_error("unknown Unix user " + *pool.run_as_user);
    accounts.emplace(pool.name, std::move(*account));
  }
  constexpr unsigned read_only = acl_read | acl_execute;
  constexpr unsigned read_write = acl_read | acl_write | acl_execute;
  std::vector<grant> grants;
  // As in IIS the pools' identities may write local/ and tmp/.
  const auto tmp = relative_below(plan.tmp_dir, dirs.alloc_path);
  for (const auto& [pool, account] : accounts) {
    grants.push_back(grant{dirs.task_name + "/local", account, read_write});
    if (tmp && !tmp->empty()) grants.push_back(grant{*tmp, account, read_write});
  }
  for (const auto& app : plan.applications) {
    const auto account = accounts.find(app.pool);
    if (account == accounts.end()) continue;
    std::vector<std::string> folders{app.physical_path};
    for (const auto& vdir : app.virtual_directories) folders.push_back(vdir.physical_path);
    for (const auto& folder : folders) {
      if (auto relative = relative_below(folder, dirs.alloc_path)) {
        grants.push_back(grant{*relative, account->second, read_only});
      } else if (!user_can_reach(folder, account->second) ||
                 !user_may(folder, account->second, R_OK | X_OK)) {
        notes.push_back(folder + ": " + account->second.name +
                        " cannot read this host folder (allowed_host_paths are served as they "
                        "are, with the pool user's own rights)");
      }
    }
  }
  for (const auto& wanted : grants) {
    const std::string shown = (dirs.alloc_path / wanted.relative).string();
    try {
      const unique_fd root = reach(dirs.alloc.get(), wanted, shown, notes);
      if (root) grant_tree(root.get(), wanted, protected_dirs, shown, notes);
    } catch (const std::exception& e) {
      notes.push_back(shown + ": " + e.what());
    }
  }
  return notes;
}

unique_fd open_app_log(const std::string& alloc_dir, const std::string& path,
                       const std::optional<unix_account>& owner) {
  const auto relative = relative_below(path, alloc_dir);
  if (!relative || relative->empty()) return unique_fd();
  const unique_fd alloc = open_directory(alloc_dir);
  if (!alloc) return unique_fd();
  const fs::path file(*relative);
  const unique_fd dir = make_dirs_beneath(alloc.get(), file.parent_path().string(), 0755);
  if (!dir) return unique_fd();
  const std::string name = file.filename().string();
  unique_fd fd(::openat(dir.get(), name.c_str(),
                        O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (fd) {
    if (owner) ::fchown(fd.get(), owner->uid, owner->gid);  // ours: made just now, for the pool
    return fd;
  }
  if (errno != EEXIST) return unique_fd();
  // Someone's file of that name: only the pool's own, plain file.
  fd.reset(::openat(dir.get(), name.c_str(),
                    O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  const uid_t uid = owner ? owner->uid : ::geteuid();
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
      st.st_uid != uid)
    return unique_fd();
  ::fcntl(fd.get(), F_SETFL, O_WRONLY | O_APPEND);
  return fd;
}

void remove_tree(const std::string& path) {
  const fs::path target = fs::path(path).lexically_normal();
  const unique_fd parent = open_directory(target.parent_path().string());
  if (parent && !target.filename().empty()) remove_beneath(parent.get(), target.filename());
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
