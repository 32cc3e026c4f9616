#pragma once

#include <stdexcept>
#include <string>

namespace nomad_iis::config {

/// A configuration problem. what() reads "<field path>: <problem>", e.g.
/// "application[0].path: expected a string, got the number 5".
class config_error : public std::runtime_error {
 public:
  config_error(std::string path, std::string problem)
      : std::runtime_error(path.empty() ? problem : path + ": " + problem),
        path_(std::move(path)),
        problem_(std::move(problem)) {}

  /// Dotted path of the offending field ("" for the whole block).
  const std::string& path() const noexcept { return path_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

}  // namespace nomad_iis::config
