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

/// Sums, over the sockets of `table` on local `port` in `state`, 1 each
/// (`queues` false) or their receive queue (a listener's: its accept queue).
std::size_t count_tcp(const std::string& table, std::int32_t port, const std::string& state,
                      bool queues) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  std::size_t count = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, st, tx_rx;
    if (!(fields >> slot >> local >> remote >> st >> tx_rx)) continue;
    const auto colon = local.rfind(':');
    if (colon == std::string::npos || st != state) continue;
    if (std::strtol(local.c_str() + colon + 1, nullptr, 16) != port) continue;
    const auto rx = tx_rx.find(':');
    count += !queues                   ? 1
             : rx == std::string::npos ? 0
                                       : std::strtoul(tx_rx.c_str() + rx + 1, nullptr, 16);
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
  // 01: ESTABLISHED
  return count_tcp("/proc/net/tcp", port, "01", false) +
         count_tcp("/proc/net/tcp6", port, "01", false);
}

std::size_t queued_tcp_connections(std::int32_t port) {
  // 0A: LISTEN
  return count_tcp("/proc/net/tcp", port, "0A", true) +
         count_tcp("/proc/net/tcp6", port, "0A", true);
}

}  // namespace nomad_iis::iis
