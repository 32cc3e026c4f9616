#include "common/system_info.hpp"

#include <unistd.h>

#include <fstream>
#include <string>

namespace nomad_iis::system_info {

std::int64_t clock_ticks_per_second() {
  static const std::int64_t ticks = [] {
    auto v = sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<std::int64_t>(v) : 100;
  }();
  return ticks;
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

}  // namespace nomad_iis::system_info
