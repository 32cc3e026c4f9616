#include "iis/pool_activity.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace nomad_iis::iis {
namespace {

/// Inode numbers of the sockets `pid` holds ("socket:[123]" links in /proc/<pid>/fd).
void collect_socket_inodes(std::int32_t pid, std::set<std::uint64_t>& inodes) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* handle = ::opendir(dir.c_str());
  if (!handle) return;
  while (dirent* entry = ::readdir(handle)) {
    if (entry->d_name[0] == '.') continue;
    char target[64];
    const std::string link = dir + "/" + entry->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    unsigned long long inode = 0;
    if (std::sscanf(target, "socket:[%llu]", &inode) == 1) inodes.insert(inode);
  }
  ::closedir(handle);
}

std::size_t count_tcp(const std::string& table, std::int32_t port) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  std::size_t count = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state)) continue;
    const auto colon = local.rfind(':');
    if (colon == std::string::npos || state != "01") continue;  // 01 = ESTABLISHED
    if (std::strtol(local.c_str() + colon + 1, nullptr, 16) == port) ++count;
  }
  return count;
}

}  // namespace

bool take_activity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || st.st_size == 0) return false;
  // The front appends (O_APPEND): its next line lands at the new end.
  const int ignored = ::truncate(path.c_str(), 0);
  (void)ignored;
  return true;
}

std::size_t open_unix_connections(const std::vector<process_ref>& processes,
                                  const std::string& bound_name) {
  std::set<std::uint64_t> inodes;
  for (const auto& process : processes) collect_socket_inodes(process.pid, inodes);
  if (inodes.empty()) return 0;
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);  // header
  std::size_t count = 0;
  while (std::getline(in, line)) {
    // Num RefCount Protocol Flags Type St Inode Path
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, path;
    std::uint64_t inode = 0;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >> inode)) continue;
    fields >> path;
    // 03 = connected: an accepted connection carries the listener's name.
    if (state == "03" && path == bound_name && inodes.count(inode)) ++count;
  }
  return count;
}

std::size_t open_tcp_connections(std::int32_t port) {
  return count_tcp("/proc/net/tcp", port) + count_tcp("/proc/net/tcp6", port);
}

}  // namespace nomad_iis::iis
