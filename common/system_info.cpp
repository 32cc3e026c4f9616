#include "common/system_info.hpp"

#include <unistd.h>

#include <fstream>
#include <limits>
#include <string>

namespace nomad_iis::system_info {

std::int64_t clock_ticks_per_second() {
  static const std::int64_t ticks = [] {
    auto v = sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<std::int64_t>(v) : 100;
  }();
  return ticks;
}

std::int64_t boot_time() {
  static const std::int64_t booted = [] {
    std::ifstream in("/proc/stat");
    std::string key;
    std::int64_t value = 0;
    while (in >> key) {
      if (key == "btime" && in >> value) return value;
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return std::int64_t{0};
  }();
  return booted;
}

std::int64_t cpu_cores() {
  static const std::int64_t cores = [] {
    auto v = sysconf(_SC_NPROCESSORS_ONLN);
    return v > 0 ? static_cast<std::int64_t>(v) : 1;
  }();
  return cores;
}

double mhz_per_core() {
  static const double mhz = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("cpu MHz", 0) != 0) continue;
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      try {
        auto v = std::stod(line.substr(colon + 1));
        if (v > 0) return v;
      } catch (const std::exception&) {
      }
    }
    return 1000.0;
  }();
  return mhz;
}

std::vector<std::string> missing_kernel_protections(const std::string& proc_sys) {
  std::vector<std::string> missing;
  std::ifstream in(proc_sys + "/fs/protected_hardlinks");
  std::string value;
  if (!(in >> value) || value != "1")
    missing.push_back(
        "fs.protected_hardlinks is not 1: an app may hard-link files it does not own (such as "
        "root-only ones) into its task folder, where the Management API would serve them");
  return missing;
}

}  // namespace nomad_iis::system_info
