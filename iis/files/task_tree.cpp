#include "iis/files/task_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "common/beneath.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/swap.hpp"

namespace nomad_iis::files {
namespace {

constexpr std::size_t max_path_length = 4096;
constexpr std::size_t max_component_length = 255;
/// Symlinks followed in one resolution (the kernel's own limit).
constexpr int max_links = 40;

file_error bad_path(const std::string& why) {
  return bad_request("bad_path", why);
}

file_error fs_failure(const std::string& what, int err) {
  return internal_error("filesystem_error", what + ": " + std::strerror(err));
}

bool is_within(std::string_view path, std::string_view dir) {
  if (dir.empty()) return false;
  if (path.size() < dir.size() || path.compare(0, dir.size(), dir) != 0) return false;
  return path.size() == dir.size() || dir == "/" || path[dir.size()] == '/';
}

/// Identities of the guarded folders seen per task dir, so one the app
/// renamed since is still known. Shared by all requests; bounded.
class guard_memory {
 public:
  struct seen {
    file_id id;
    bool secrets;  ///< else private/
  };

  /// Adds `current` to what is known of the task dir `root` and returns all.
  std::vector<seen> remember(const std::string& path, file_id root,
                             const std::vector<seen>& current) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (by_task_.size() >= max_tasks && !by_task_.count(path)) by_task_.erase(by_task_.begin());
    auto& known = by_task_[path];
    if (known.root != root) known = {root, {}};
    for (const auto& s : current) {
      bool have = false;
      for (const auto& k : known.ids) have = have || k.id == s.id;
      if (!have && known.ids.size() < max_ids) known.ids.push_back(s);
    }
    return known.ids;
  }

 private:
  static constexpr std::size_t max_tasks = 4096;
  static constexpr std::size_t max_ids = 16;
  struct task {
    file_id root;
    std::vector<seen> ids;
  };
  std::mutex mutex_;
  std::map<std::string, task> by_task_;
};

guard_memory& memory() {
  static guard_memory m;
  return m;
}

std::string secrets_message() {
  return "the task's secrets directory is not accessible through the API";
}
std::string private_message() {
  return "the task's private directory is not accessible through the API";
}

/// One component still to resolve; `from_link` when a symlink's text
/// brought it in (such a component must exist).
struct pending {
  std::string name;
  bool from_link;
};

/// Resolution state: the stack of folders entered (the task dir first),
/// so ".." in a link's text never opens anything.
class walker {
 public:
  walker(const task_root& root, std::string shown) : root_(root), shown_(std::move(shown)) {
    stack_.emplace_back(::openat(root.fd(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!stack_.back()) throw fs_failure("cannot open the task directory", errno);
  }

  void push_text(std::string_view text, bool from_link) {
    std::deque<pending> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
      auto end = text.find('/', start);
      if (end == std::string_view::npos) end = text.size();
      auto part = text.substr(start, end - start);
      if (!part.empty() && part != ".") parts.push_back({std::string(part), from_link});
      start = end + 1;
    }
    todo_.insert(todo_.begin(), parts.begin(), parts.end());
  }

  /// Resolves what is pending; a final symlink is followed only when
  /// `follow_final`. Returns the entry reached.
  held_entry run(bool follow_final) {
    while (!todo_.empty()) {
      auto next = todo_.front();
      todo_.pop_front();
      if (next.name == "..") {
        if (stack_.size() == 1) throw outside();
        stack_.pop_back();
        if (todo_.empty()) return current_folder();
        continue;
      }
      check_name(next.name);
      const bool last = todo_.empty();
      unique_fd fd(::openat(cur(), next.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) {
        if (errno != ENOENT) throw bad_path("\"" + shown_ + "\" cannot be examined");
        if (next.from_link) throw nowhere();
        return missing(std::move(next.name));
      }
      struct stat st {};
      if (::fstat(fd.get(), &st) != 0) throw fs_failure("fstat", errno);
      if (S_ISLNK(st.st_mode) && (!last || follow_final)) {
        follow(fd.get());
        continue;
      }
      if (last) return found(std::move(next.name), std::move(fd), st);
      if (!S_ISDIR(st.st_mode)) throw bad_path("\"" + shown_ + "\": a parent is not a directory");
      enter(std::move(fd), st);
    }
    return current_folder();
  }

  /// Goes on through the final symlink `link` that run(false) returned.
  held_entry follow_final(const held_entry& link) {
    follow(link.fd.get());
    return run(true);
  }

 private:
  int cur() const { return stack_.back().get(); }

  file_error outside() const {
    return bad_path("\"" + shown_ + "\" is a symlink that leads outside the task directory");
  }
  file_error nowhere() const {
    return bad_path("\"" + shown_ + "\" is a symlink that leads nowhere");
  }

  /// Names never resolved: staging folders anywhere, guarded ones at the top.
  void check_name(const std::string& name) const {
    if (name.size() > max_component_length) throw bad_path("a path component is too long");
    if (is_staging_name(name))
      throw bad_path("staging folders of uploads in progress are not accessible");
    if (stack_.size() == 1)
      if (auto why = root_.guarded_name(name)) throw forbidden(*why);
  }

  void check_folder(const struct stat& st) const {
    root_.check(st);
    if (is_live_staging(file_id::of(st)))
      throw bad_path("staging folders of uploads in progress are not accessible");
  }

  void enter(unique_fd fd, const struct stat& st) {
    check_folder(st);
    if (stack_.size() > max_path_length / 2) throw bad_path("the path is nested too deeply");
    stack_.push_back(std::move(fd));
  }

  void follow(int link_fd) {
    if (++links_ > max_links) throw bad_path("\"" + shown_ + "\" has too many levels of symlinks");
    std::string text(PATH_MAX, '\0');
    auto n = ::readlinkat(link_fd, "", text.data(), text.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= text.size()) throw nowhere();
    text.resize(static_cast<std::size_t>(n));
    if (text.front() == '/') {
      std::string rest;
      if (!root_.contains(text, rest)) throw outside();
      stack_.resize(1);
      text = rest;
    }
    push_text(text, true);
  }

  unique_fd dup_cur() const {
    unique_fd fd(::fcntl(cur(), F_DUPFD_CLOEXEC, 0));
    if (!fd) throw fs_failure("dup", errno);
    return fd;
  }

  held_entry found(std::string name, unique_fd fd, const struct stat& st) {
    if (S_ISDIR(st.st_mode)) check_folder(st);
    held_entry e;
    e.dir = dup_cur();
    e.name = std::move(name);
    e.fd = std::move(fd);
    e.st = st;
    return e;
  }

  held_entry missing(std::string name) {
    held_entry e;
    e.dir = dup_cur();
    while (!todo_.empty()) {
      auto next = todo_.front();
      todo_.pop_front();
      if (next.from_link || next.name == "..") throw nowhere();
      check_name(next.name);
      e.missing.push_back(std::move(name));
      name = std::move(next.name);
    }
    e.name = std::move(name);
    return e;
  }

  /// The folder on top of the stack as an entry (a path ending in ".." of
  /// a link): its descriptor is held, its parent one below.
  held_entry current_folder() {
    held_entry e;
    e.fd = dup_cur();
    if (::fstat(e.fd.get(), &e.st) != 0) throw fs_failure("fstat", errno);
    if (stack_.size() > 1) {
      e.dir = unique_fd(::fcntl(stack_[stack_.size() - 2].get(), F_DUPFD_CLOEXEC, 0));
      // Its name in that folder: found by identity (".." of a link only).
      e.name = name_in(stack_[stack_.size() - 2].get(), file_id::of(e.st));
    }
    return e;
  }

  static std::string name_in(int dir, file_id id);

  const task_root& root_;
  std::string shown_;
  std::vector<unique_fd> stack_;
  std::deque<pending> todo_;
  int links_ = 0;
};

std::string walker::name_in(int dir, file_id id) {
  unique_fd copy(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* stream = copy ? ::fdopendir(copy.get()) : nullptr;
  if (!stream) throw fs_failure("reading a folder", errno);
  copy.release();
  std::unique_ptr<DIR, int (*)(DIR*)> closer(stream, ::closedir);
  while (const dirent* ent = ::readdir(stream)) {
    struct stat st {};
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    if (::fstatat(dir, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && file_id::of(st) == id)
      return ent->d_name;
  }
  throw conflict("changed", "a folder of the path moved while it was resolved");
}

}  // namespace

task_root::task_root(const std::string& path, const std::string& secrets_name, bool allow_secrets)
    : path_(path), secrets_name_(secrets_name), allow_secrets_(allow_secrets) {
  fd_ = unique_fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd_) throw conflict("task_dir_missing", "the task directory does not exist");
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
  canonical_ = real ? real.get() : path;
  struct stat root_st {};
  if (::fstat(fd_.get(), &root_st) != 0) throw fs_failure("fstat", errno);

  std::vector<guard_memory::seen> current;
  for (const auto& [name, secrets] : {std::pair{secrets_name_, true}, {"private", false}}) {
    struct stat st {};
    if (!name.empty() && ::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode))
      current.push_back({file_id::of(st), secrets});
  }
  for (const auto& s : memory().remember(canonical_, file_id::of(root_st), current)) {
    if (s.secrets && allow_secrets_) continue;
    guards_.push_back({s.id, s.secrets ? secrets_message() : private_message()});
  }
}

bool task_root::contains(std::string_view path, std::string& rest) const {
  for (const auto* base : {&path_, &canonical_}) {
    if (!is_within(path, *base)) continue;
    rest = std::string(path.substr(std::min(path.size(), base->size())));
    return true;
  }
  return false;
}

std::optional<std::string> task_root::guarded(const struct stat& st) const {
  if (!S_ISDIR(st.st_mode)) return std::nullopt;
  for (const auto& g : guards_)
    if (g.id == file_id::of(st)) return g.message;
  return std::nullopt;
}

std::optional<std::string> task_root::guarded_name(std::string_view name) const {
  if (name == "private") return private_message();
  if (!allow_secrets_ && name == secrets_name_) return secrets_message();
  return std::nullopt;
}

void task_root::check(const struct stat& st) const {
  if (auto why = guarded(st)) throw forbidden(*why);
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void check_path_text(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) throw bad_path("the path contains a NUL byte");
    if (c < 0x20 || c == 0x7f) throw bad_path("the path contains a control character");
    if (c == '\\') throw bad_path("the path contains a backslash");
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        int v = hi * 16 + lo;
        if (v == '.' || v == '/' || v == '\\' || v == '%' || v < 0x20)
          throw bad_path("the path is encoded more than once");
      }
    }
  }
}

std::vector<std::string> split_relative(std::string_view path) {
  check_path_text(path);
  if (path.size() > max_path_length) throw bad_path("the path is too long");
  if (!path.empty() && path.front() == '/') throw bad_path("absolute paths are not allowed");
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto part = path.substr(start, end - start);
    if (part == "..") throw bad_path("\"..\" is not allowed in a path");
    if (is_staging_name(part))
      throw bad_path("staging folders of uploads in progress are not accessible");
    if (part.size() > max_component_length) throw bad_path("a path component is too long");
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

resolved_path resolve_path(const task_root& root, std::string_view relative) {
  resolved_path r;
  for (const auto& part : split_relative(relative))
    r.relative += (r.relative.empty() ? "" : "/") + part;
  walker walk(root, r.relative);
  walk.push_text(r.relative, false);
  r.entry = walk.run(false);
  if (r.entry.is_symlink()) r.link_target = walk.follow_final(r.entry);
  return r;
}

unique_fd open_parent(const task_root& root, const held_entry& entry) {
  unique_fd cur(::fcntl(entry.dir.get(), F_DUPFD_CLOEXEC, 0));
  if (!cur) throw fs_failure("dup", errno);
  struct stat owner {};
  if (!entry.missing.empty() && ::fstat(cur.get(), &owner) != 0) throw fs_failure("fstat", errno);
  for (const auto& name : entry.missing) {
    const bool made = ::mkdirat(cur.get(), name.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) throw fs_failure("creating the folder \"" + name + "\"", errno);
    unique_fd next(
        ::openat(cur.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) throw conflict("not_a_directory", "a parent of the target is not a directory");
    struct stat st {};
    if (::fstat(next.get(), &st) != 0) throw fs_failure("fstat", errno);
    root.check(st);
    if (is_live_staging(file_id::of(st)))
      throw conflict("not_a_directory", "a parent of the target is not a directory");
    // Only a folder this call made (still ours and empty) takes the owner.
    if (made && ::geteuid() == 0 && st.st_uid == 0 && st.st_nlink == 2 &&
        ::fchown(next.get(), owner.st_uid, owner.st_gid) != 0)
      throw fs_failure("chown", errno);
    cur = std::move(next);
  }
  return cur;
}

unique_fd open_regular_file(const held_entry& entry, const std::string& shown) {
  if (!entry.exists()) throw not_found("\"" + shown + "\" does not exist");
  if (!entry.dir || !S_ISREG(entry.st.st_mode))
    throw bad_path("\"" + shown + "\" is not a regular file");
  unique_fd fd(::openat(entry.dir.get(), entry.name.c_str(),
                        O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) throw not_found("\"" + shown + "\" does not exist");
    if (errno == ELOOP) throw conflict("changed", "\"" + shown + "\" changed while it was opened");
    throw fs_failure("cannot open the file", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw fs_failure("fstat", errno);
  if (file_id::of(st) != file_id::of(entry.st))
    throw conflict("changed", "\"" + shown + "\" changed while it was opened");
  return fd;
}

unique_fd open_folder(const held_entry& entry) {
  unique_fd fd(::openat(entry.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw fs_failure("cannot open the folder", errno);
  return fd;
}

void walk_folder_files(
    int dir_fd, const task_root* root,
    const std::function<void(std::string_view relative, int fd, const struct stat& st)>& visit) {
  walk_beneath(dir_fd, [&](const walk_entry& e) {
    if (e.depth == 0) return walk_step::enter;
    const std::string_view name(e.name);
    if (is_staging_name(name)) return walk_step::skip;
    if (S_ISDIR(e.st.st_mode)) {
      if (is_live_staging(file_id::of(e.st)) || (root && root->guarded(e.st)))
        return walk_step::skip;
      visit(e.relative, -1, e.st);
      return walk_step::enter;
    }
    if (!S_ISREG(e.st.st_mode)) return walk_step::skip;  // links are never followed
    unique_fd fd(::openat(e.parent_fd, e.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        file_id::of(st) != file_id::of(e.st))
      return walk_step::skip;  // replaced since it was listed
    visit(e.relative, fd.get(), st);
    return walk_step::skip;
  });
}

}  // namespace nomad_iis::files
