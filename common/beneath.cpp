#include "common/beneath.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace nomad_iis {
namespace {

/// A rename anywhere on the system makes RESOLVE_BENEATH answer EAGAIN;
/// an app that renames in a loop must not turn that into a failure at once.
constexpr int eagain_retries = 256;

struct dir_closer {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using dir_ptr = std::unique_ptr<DIR, dir_closer>;

/// A directory stream of `fd`'s directory, positioned at its start.
dir_ptr open_stream(int fd) {
  const int copy = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return nullptr;
  DIR* dir = ::fdopendir(copy);
  if (!dir) ::close(copy);
  return dir_ptr(dir);
}

bool is_dot(const char* name) {
  return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}

struct walk_frame {
  dir_ptr dir;
  std::string relative;
};

}  // namespace

unique_fd open_beneath(int dirfd, std::string_view relative, int flags, link_policy links,
                       mode_t mode) {
  std::string path(relative.empty() ? std::string_view(".") : relative);
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  if (links == link_policy::refuse) how.resolve |= RESOLVE_NO_SYMLINKS;
  for (int attempt = 0;; ++attempt) {
    const long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0) return unique_fd(static_cast<int>(fd));
    if ((errno != EAGAIN && errno != EINTR) || attempt == eagain_retries) return unique_fd();
  }
}

unique_fd open_directory(const std::string& absolute) {
  return unique_fd(::open(absolute.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

void walk_beneath(int dirfd, const std::function<walk_step(const walk_entry&)>& visit,
                  int max_depth) {
  struct stat root_st {};
  if (::fstat(dirfd, &root_st) != 0)
    throw std::runtime_error(std::string("walk: fstat: ") + std::strerror(errno));
  if (visit(walk_entry{dirfd, ".", root_st, "", 0}) == walk_step::skip || !S_ISDIR(root_st.st_mode))
    return;
  std::vector<walk_frame> stack;
  stack.push_back({open_stream(dirfd), ""});
  if (!stack.back().dir) throw std::runtime_error(std::string("walk: ") + std::strerror(errno));
  while (!stack.empty()) {
    errno = 0;
    const dirent* entry = ::readdir(stack.back().dir.get());
    if (!entry) {
      if (errno != 0)
        throw std::runtime_error(std::string("walk: readdir: ") + std::strerror(errno));
      stack.pop_back();
      continue;
    }
    if (is_dot(entry->d_name)) continue;
    const int parent = ::dirfd(stack.back().dir.get());
    struct stat st {};
    if (::fstatat(parent, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    const std::string relative = stack.back().relative.empty()
                                     ? std::string(entry->d_name)
                                     : stack.back().relative + "/" + entry->d_name;
    const int depth = static_cast<int>(stack.size());
    if (visit(walk_entry{parent, entry->d_name, st, relative, depth}) == walk_step::skip ||
        !S_ISDIR(st.st_mode))
      continue;
    if (depth >= max_depth)
      throw std::runtime_error("walk: \"" + relative + "\" is nested deeper than " +
                               std::to_string(max_depth) + " levels");
    unique_fd child(
        ::openat(parent, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) continue;  // replaced by something else since the fstatat: not ours to enter
    struct stat child_st {};
    if (::fstat(child.get(), &child_st) != 0 || child_st.st_ino != st.st_ino ||
        child_st.st_dev != st.st_dev)
      continue;  // swapped between the visit and the open: the visit judged another object
    DIR* dir = ::fdopendir(child.get());
    if (!dir) continue;
    child.release();
    stack.push_back({dir_ptr(dir), relative});
  }
}

bool remove_beneath(int dirfd, const std::string& name) noexcept {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return true;
  if (errno != EISDIR) return false;
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) == 0) return true;
  try {
    /// A folder being emptied: its descriptor, its stream and its name in
    /// the frame below.
    struct frame {
      unique_fd fd;
      dir_ptr stream;
      std::string name;
    };
    std::vector<frame> stack;
    bool complete = true;
    auto enter = [&](int parent, const std::string& child) {
      unique_fd fd(
          ::openat(parent, child.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      dir_ptr stream = fd ? open_stream(fd.get()) : nullptr;
      if (!stream || stack.size() >= 256) return false;
      stack.push_back({std::move(fd), std::move(stream), child});
      return true;
    };
    if (!enter(dirfd, name)) return false;
    while (!stack.empty()) {
      auto& top = stack.back();
      const dirent* entry = ::readdir(top.stream.get());
      if (!entry) {
        const std::string done = top.name;
        stack.pop_back();
        const int parent = stack.empty() ? dirfd : stack.back().fd.get();
        if (::unlinkat(parent, done.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
          complete = false;
        continue;
      }
      if (is_dot(entry->d_name)) continue;
      if (::unlinkat(top.fd.get(), entry->d_name, 0) == 0 || errno == ENOENT) continue;
      if (errno != EISDIR || !enter(top.fd.get(), entry->d_name)) complete = false;
    }
    return complete;
  } catch (...) {
    return false;
  }
}

unique_fd make_dirs_beneath(int dirfd, std::string_view relative, mode_t mode) {
  unique_fd current(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::size_t start = 0;
  while (current && start < relative.size()) {
    auto end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    const std::string part(relative.substr(start, end - start));
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      errno = EXDEV;
      return unique_fd();
    }
    if (::mkdirat(current.get(), part.c_str(), mode) != 0 && errno != EEXIST) return unique_fd();
    current = unique_fd(
        ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  return current;
}

}  // namespace nomad_iis
