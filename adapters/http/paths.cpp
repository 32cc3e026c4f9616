#include "adapters/http/paths.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "adapters/http/http_error.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::size_t max_path_length = 4096;
constexpr std::size_t max_component_length = 255;

http_error bad_path(const std::string& why) {
  return bad_request("bad_path", why);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Refuses characters no API path may hold, and encodings left after one
/// decoding pass: they can only be an attempt at double-encoded traversal.
void check_decoded(std::string_view s) {
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

std::string canonical(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
  return real ? std::string(real.get()) : std::string();
}

}  // namespace

std::string decode_fs_path(const std::vector<std::string>& raw_segments) {
  std::string out;
  for (const auto& raw : raw_segments) {
    std::string decoded;
    try {
      Poco::URI::decode(raw, decoded, false);
    } catch (const Poco::Exception&) {
      throw bad_path("the path has a malformed percent-encoding");
    }
    check_decoded(decoded);
    if (!out.empty()) out += '/';
    out += decoded;
  }
  if (out.size() > max_path_length) throw bad_path("the path is too long");
  return out;
}

std::vector<std::string> split_relative(std::string_view path) {
  check_decoded(path);
  if (!path.empty() && path.front() == '/') throw bad_path("absolute paths are not allowed");
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto part = path.substr(start, end - start);
    if (part == "..") throw bad_path("\"..\" is not allowed in a path");
    if (part.rfind(".nomad-iis-staging-", 0) == 0)
      throw bad_path("staging folders of uploads in progress are not accessible");
    if (part.size() > max_component_length) throw bad_path("a path component is too long");
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

bool is_within(std::string_view path, std::string_view dir) {
  if (dir.empty()) return false;
  if (path.size() < dir.size() || path.compare(0, dir.size(), dir) != 0) return false;
  return path.size() == dir.size() || dir == "/" || path[dir.size()] == '/';
}

std::string canonical_secrets_dir(const path_scope& scope) {
  return scope.secrets_dir.empty() ? std::string() : canonical(scope.secrets_dir);
}

resolved_path resolve_path(const path_scope& scope, std::string_view relative) {
  auto parts = split_relative(relative);
  auto root = canonical(scope.task_dir);
  if (root.empty()) throw conflict("task_dir_missing", "the task directory does not exist");

  resolved_path r;
  std::string cur = root;
  r.exists = true;
  r.is_dir = true;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    r.relative += (r.relative.empty() ? "" : "/") + parts[i];
    std::string candidate = cur + "/" + parts[i];
    if (!r.exists) {  // below a missing component: nothing to follow
      cur = candidate;
      continue;
    }
    struct stat st {};
    if (::lstat(candidate.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        r.exists = false;
        r.is_dir = false;
        cur = candidate;
        continue;
      }
      if (errno == ENOTDIR) throw bad_path("\"" + r.relative + "\": a parent is not a directory");
      throw bad_path("\"" + r.relative + "\" cannot be examined");
    }
    if (S_ISLNK(st.st_mode)) {
      auto real = canonical(candidate);
      if (real.empty()) throw bad_path("\"" + r.relative + "\" is a symlink that leads nowhere");
      if (!is_within(real, root))
        throw bad_path("\"" + r.relative + "\" is a symlink that leads outside the task directory");
      if (last) {
        r.absolute = candidate;
        r.target = real;
        r.is_symlink = true;
        struct stat ts {};
        r.is_dir = ::stat(real.c_str(), &ts) == 0 && S_ISDIR(ts.st_mode);
        break;
      }
      cur = real;
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode))
      throw bad_path("\"" + r.relative + "\": a parent is not a directory");
    r.is_dir = S_ISDIR(st.st_mode);
    cur = candidate;
  }
  if (!r.is_symlink) {
    r.absolute = cur;
    r.target = cur;
  }
  if (r.target.size() > max_path_length) throw bad_path("the path is too long");

  if (!scope.allow_secrets) {
    auto secrets = canonical_secrets_dir(scope);
    std::string lexical_secrets = root + "/secrets";
    for (const auto* p : {&r.absolute, &r.target}) {
      if ((!secrets.empty() && is_within(*p, secrets)) || is_within(*p, lexical_secrets))
        throw forbidden("the task's secrets directory is not accessible through the API");
    }
  }
  return r;
}

}  // namespace nomad_iis::http
