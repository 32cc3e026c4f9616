#pragma once
// An inspector for the actor tests: it records what the task asked for and
// answers at once, a picture of fixed bytes, a dump as a file it writes.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "iis/inspect/inspector.hpp"

namespace nomad_iis::test {

struct inspected {
  std::filesystem::path dir;  ///< where dumps are written
  std::string png = "\x89PNG fake";
  std::string core = "CORE of the worker";
  std::vector<inspect::screenshot_request> shots;
  std::vector<std::int32_t> dumped_pids;
  std::weak_ptr<inspect::core_dump> last_dump;  ///< expires when the task releases it
};

inline inspect::inspector fake_inspector(std::shared_ptr<inspected> log) {
  inspect::inspector tools;
  tools.screenshot = [log](const inspect::screenshot_request& req) {
    log->shots.push_back(req);
    return log->png;
  };
  tools.dump = [log](const std::string&, std::int32_t pid, std::chrono::milliseconds) {
    log->dumped_pids.push_back(pid);
    auto dump = std::make_shared<inspect::core_dump>();
    dump->path = (log->dir / ("core." + std::to_string(pid))).string();
    std::ofstream(dump->path) << log->core;
    dump->size = log->core.size();
    log->last_dump = dump;
    return dump;
  };
  return tools;
}

}  // namespace nomad_iis::test
