#include "iis/proc_stats.hpp"

#include "iis/proc_file.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nomad_iis::iis {

std::optional<process_usage> read_usage(const process_ref& process) {
  const auto stat = read_small_file("/proc/" + std::to_string(process.pid) + "/stat");
  if (!stat) return std::nullopt;
  const std::string line = stat->substr(0, stat->find('\n'));
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  std::string field;
  while (rest >> field) fields.push_back(field);
  if (fields.size() < 22) return std::nullopt;
  try {
    if (process.start_ticks != 0 && std::stoull(fields[19]) != process.start_ticks) {
      return std::nullopt;
    }
    static const long page_size = ::sysconf(_SC_PAGESIZE);
    process_usage usage;
    usage.pid = process.pid;
    usage.user_ticks = std::stoull(fields[11]);    // field 14 utime
    usage.system_ticks = std::stoull(fields[12]);  // field 15 stime
    usage.rss_bytes = std::stoull(fields[21]) * static_cast<std::uint64_t>(page_size);  // 24 rss
    return usage;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::uint64_t> read_private_bytes(const process_ref& process) {
  const auto rollup = read_small_file("/proc/" + std::to_string(process.pid) + "/smaps_rollup");
  if (!rollup) return std::nullopt;
  // Read after the file: a PID reused in between fails this check.
  const auto usage = read_usage(process);
  if (!usage) return std::nullopt;
  std::istringstream lines(*rollup);
  std::string key;
  std::uint64_t kb = 0;
  std::uint64_t total_kb = 0;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    if (!(fields >> key >> kb)) continue;
    if (key == "Private_Clean:" || key == "Private_Dirty:" || key == "Swap:") total_kb += kb;
  }
  return total_kb * 1024;
}

}  // namespace nomad_iis::iis
