// libFuzzer target: Management API path decoding and resolution. Whatever
// the input, resolution either refuses it (http_error) or yields a path
// inside the task dir that is not in secrets/. Built by scripts/fuzz-http.sh.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "adapters/http/http_error.hpp"
#include "adapters/http/paths.hpp"

using namespace nomad_iis::http;

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
    for (auto d : {task + "/local/sub", secrets, outside, task + "/tmp"})
      std::filesystem::create_directories(d);
    std::FILE* f = std::fopen((task + "/local/index.html").c_str(), "w");
    std::fclose(f);
    ::symlink(outside.c_str(), (task + "/local/out").c_str());
    ::symlink("../secrets", (task + "/local/sec").c_str());
    ::symlink("sub", (task + "/local/in").c_str());
    ::symlink("..", (task + "/local/up").c_str());
    ::symlink("/", (task + "/local/root").c_str());
    char* real = ::realpath(task.c_str(), nullptr);
    task_real = real;
    std::free(real);
    real = ::realpath(secrets.c_str(), nullptr);
    secrets_real = real;
    std::free(real);
  }
  std::string task_real, secrets_real;
};

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
  path_scope scope{f.task, f.secrets, false};
  try {
    auto decoded = decode_fs_path(segments);
    auto r = resolve_path(scope, decoded);
    if (!is_within(r.target, f.task_real) || !is_within(r.absolute, f.task_real)) std::abort();
    if (is_within(r.target, f.secrets_real) || is_within(r.absolute, f.secrets_real)) std::abort();
    for (auto& part : split_relative(r.relative))
      if (part == ".." || part == ".") std::abort();  // normalised: no traversal components left
  } catch (const http_error& e) {
    if (e.status() != 400 && e.status() != 403) std::abort();
  }
  return 0;
}
