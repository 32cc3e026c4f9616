#include "iis/nginx_log.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace nomad_iis::iis {
namespace {

/// The last `bytes` of the file as lines.
std::vector<std::string> tail_lines(const std::string& path, std::streamoff bytes = 16384) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  if (!in) return lines;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(size > bytes ? size - bytes : 0);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace

std::string last_emergency(const std::string& log_path) {
  const auto lines = tail_lines(log_path);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    auto pos = it->find("[emerg] ");
    if (pos == std::string::npos) continue;
    std::string message = it->substr(pos + 8);
    // Drop the "<pid>#<tid>: " prefix.
    auto colon = message.find(": ");
    if (colon != std::string::npos && message.find('#') < colon)
      message = message.substr(colon + 2);
    return message;
  }
  return "";
}

std::string worker_exit_reason(const std::string& log_path, pid_t worker) {
  const std::string needle = "process " + std::to_string(worker) + " exited ";
  const auto lines = tail_lines(log_path);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    auto pos = it->find(needle);
    if (pos == std::string::npos) continue;
    std::istringstream rest(it->substr(pos + needle.size()));
    std::string word1, word2, value;
    rest >> word1 >> word2 >> value;  // "on signal 9" | "with code 2"
    if (word2 == "signal" || word2 == "code") return word2 + " " + value;
  }
  return "";
}

void trim_log(const std::string& log_path, long max_bytes) {
  std::ifstream in(log_path, std::ios::binary | std::ios::ate);
  if (in && in.tellg() > max_bytes) {
    in.close();
    ::truncate(log_path.c_str(), 0);
  }
}

}  // namespace nomad_iis::iis
