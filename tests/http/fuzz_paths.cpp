// libFuzzer target: Management API path decoding and resolution. Whatever
// the input, resolution either refuses it (400/403: http_error, or a
// files::file_error bad_request/forbidden) or yields
// descriptors of objects inside the task dir, none in secrets/ or private/.
// Built by scripts/fuzz-http.sh.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "adapters/http/http_error.hpp"
#include "adapters/http/paths.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/task_tree.hpp"

using namespace nomad_iis::http;
using namespace nomad_iis::files;

namespace {

/// A task dir with files, folders and symlinks in and out, made once.
struct fixture {
  std::string root, task, secrets, outside;
  fixture() {
    char tmpl[] = "/tmp/fuzz-paths-XXXXXX";
    root = ::mkdtemp(tmpl);
    task = root + "/task";
    secrets = task + "/secrets";
    outside = root + "/outside";
    for (auto d : {task + "/local/sub", secrets, task + "/private", outside, task + "/tmp"})
      std::filesystem::create_directories(d);
    std::FILE* f = std::fopen((task + "/local/index.html").c_str(), "w");
    std::fclose(f);
    ::symlink(outside.c_str(), (task + "/local/out").c_str());
    ::symlink("../secrets", (task + "/local/sec").c_str());
    ::symlink("sub", (task + "/local/in").c_str());
    ::symlink("..", (task + "/local/up").c_str());
    ::symlink("/", (task + "/local/root").c_str());
    ::symlink("../private", (task + "/local/priv").c_str());
    ::symlink((task + "/local/sub").c_str(), (task + "/local/abs").c_str());
    char* real = ::realpath(task.c_str(), nullptr);
    task_real = real;
    std::free(real);
    real = ::realpath(secrets.c_str(), nullptr);
    secrets_real = real;
    std::free(real);
  }
  std::string task_real, secrets_real;
};

/// Where a descriptor points (its /proc/self/fd link).
std::string path_of(int fd) {
  char buf[4096];
  auto n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

bool is_within(const std::string& path, const std::string& dir) {
  return path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

/// Inside the task, never in secrets/ or private/.
void check_held(const held_entry& e, const fixture& f) {
  for (int fd : {e.dir.get(), e.fd.get()}) {
    if (fd < 0) continue;
    auto p = path_of(fd);
    if (!is_within(p, f.task_real)) std::abort();
    if (is_within(p, f.secrets_real) || is_within(p, f.task_real + "/private")) std::abort();
  }
}

fixture& fx() {
  static fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& f = fx();
  std::string input(reinterpret_cast<const char*>(data), size);
  // Split like the router does: raw segments on '/'.
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= input.size()) {
    auto end = input.find('/', start);
    if (end == std::string::npos) end = input.size();
    segments.push_back(input.substr(start, end - start));
    start = end + 1;
  }
  try {
    const task_root root(f.task, "secrets", false);
    auto decoded = decode_fs_path(segments);
    auto r = resolve_path(root, decoded);
    check_held(r.entry, f);
    if (r.link_target) check_held(*r.link_target, f);
    for (auto& part : split_relative(r.relative))
      if (part == ".." || part == ".") std::abort();  // normalised: no traversal components left
  } catch (const http_error& e) {
    if (e.status() != 400 && e.status() != 403) std::abort();
  } catch (const file_error& e) {
    if (e.kind() != file_errc::bad_request && e.kind() != file_errc::forbidden) std::abort();
  }
  return 0;
}
