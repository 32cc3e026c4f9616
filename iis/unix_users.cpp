#include "iis/unix_users.hpp"

#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <openssl/sha.h>

namespace nomad_iis::iis {
namespace {

constexpr const char* comment_prefix = "nomad-iis ";
/// useradd fails while another program holds /etc/passwd's lock.
constexpr int useradd_attempts = 5;
constexpr auto useradd_retry_pause = std::chrono::milliseconds(200);

/// useradd picks nothing itself (we give the UID), so two of our own calls
/// must not pick the same one: one at a time in this process.
std::mutex& accounts_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::string comment_of(const std::string& name) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 || !found)
    return {};
  return pw.pw_gecos ? pw.pw_gecos : "";
}

bool uid_has_account(uid_t uid) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  return ::getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found;
}

/// UIDs of every running process: a UID whose account was removed while a
/// process of it lives on must not be handed to a new pool.
std::set<uid_t> uids_in_use() {
  std::set<uid_t> uids;
  DIR* proc = ::opendir("/proc");
  if (!proc) return uids;
  while (const dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    struct stat st {};
    if (::fstatat(::dirfd(proc), entry->d_name, &st, 0) == 0) uids.insert(st.st_uid);
  }
  ::closedir(proc);
  return uids;
}

/// A free UID of `range`, starting at a place derived from `name` so freed
/// UIDs are not handed out again at once.
uid_t pick_uid(const std::string& name, uid_range range) {
  const auto busy = uids_in_use();
  const std::uint64_t size = std::uint64_t(range.last) - range.first + 1;
  const std::uint64_t start = std::hash<std::string>{}(name) % size;
  for (std::uint64_t i = 0; i < size; ++i) {
    const auto uid = static_cast<uid_t>(range.first + (start + i) % size);
    if (!busy.count(uid) && !uid_has_account(uid)) return uid;
  }
  throw std::runtime_error("no free UID left in " + std::to_string(range.first) + "-" +
                           std::to_string(range.last));
}

/// Runs a shadow-utils program and waits for it; its exit code.
int run_tool(const std::vector<std::string>& args) {
  spawn_request request;
  request.path = args.front();
  request.args = args;
  request.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  const auto status = spawn_child(request).wait();
  if (!status.known) return -1;
  return status.signal != 0 ? 128 + status.signal : status.code;
}

std::string tool_path(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/"}) {
    const std::string path = std::string(dir) + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  throw std::runtime_error(std::string(name) + " is not installed (package passwd)");
}

}  // namespace

std::string managed_user_comment(const std::string& purpose) {
  return comment_prefix + purpose;
}

std::string pool_user_name(const std::string& alloc_id, const std::string& task_name,
                           const std::string& pool_name) {
  const std::string key = alloc_id + "\n" + task_name + "\n" + pool_name;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  ::SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  char hex[13];
  for (int i = 0; i < 6; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return std::string("iis-") + hex;
}

unix_account ensure_managed_user(const std::string& name, const std::string& comment,
                                 uid_range range) {
  std::lock_guard lock(accounts_mutex());
  for (int attempt = 1;; ++attempt) {
    if (auto account = find_account(name)) {
      if (comment_of(name) != comment)
        throw std::runtime_error("the Unix user \"" + name +
                                 "\" exists but was not created by nomad_iis for this purpose");
      return *account;
    }
    const uid_t uid = pick_uid(name, range);
    const int code =
        run_tool({tool_path("useradd"), "--system", "--user-group", "--no-log-init",
                  "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                  "--uid", std::to_string(uid), "--comment", comment, name});
    if (code == 0) continue;  // read it back
    // 1: passwd lock held, 4: UID taken meanwhile, 9: name taken meanwhile, 10: group lock.
    if (attempt >= useradd_attempts || (code != 1 && code != 4 && code != 9 && code != 10))
      throw std::runtime_error("useradd " + name + " failed with exit code " +
                               std::to_string(code));
    std::this_thread::sleep_for(useradd_retry_pause);
  }
}

bool remove_managed_user(const std::string& name, const std::string& comment) {
  std::lock_guard lock(accounts_mutex());
  for (int attempt = 1;; ++attempt) {
    if (!find_account(name) || comment_of(name) != comment) return true;  // none of ours
    const int code = run_tool({tool_path("userdel"), name});
    if (code == 0 || code == 6) return true;  // 6: already gone
    if (attempt >= useradd_attempts) return false;
    std::this_thread::sleep_for(useradd_retry_pause);
  }
}

void ensure_pool_users(const site_plan& plan) {
  if (::geteuid() != 0) return;
  for (const auto& pool : plan.pools) {
    if (pool.managed_user_comment.empty() || !pool.run_as_user) continue;
    ensure_managed_user(*pool.run_as_user, pool.managed_user_comment);
  }
}

std::vector<std::string> remove_pool_users(const site_plan& plan) {
  std::vector<std::string> stayed;
  if (::geteuid() != 0) return stayed;
  for (const auto& pool : plan.pools) {
    if (pool.managed_user_comment.empty() || !pool.run_as_user) continue;
    if (!remove_managed_user(*pool.run_as_user, pool.managed_user_comment))
      stayed.push_back(*pool.run_as_user);
  }
  return stayed;
}

}  // namespace nomad_iis::iis
