#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

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

/// The config_errors of one decode or validation, so that one message names
/// every bad field instead of only the first.
class problem_list {
 public:
  /// Runs `check` (one field or one rule); a config_error it throws is
  /// recorded and the caller goes on with the next field.
  template <class Check>
  void check(Check&& check) {
    try {
      check();
    } catch (const config_error& e) {
      add(e);
    }
  }

  /// Records `error` unless its field already has a problem (the first one
  /// is the cause; what follows from it only repeats it).
  void add(const config_error& error);
  bool empty() const noexcept { return errors_.empty(); }

  /// Nothing when empty; the one error as it is; else one config_error
  /// (path "") reading "N problems: (1) <path>: <problem>; (2) ...".
  void throw_if_any() const;

 private:
  std::vector<config_error> errors_;
};

}  // namespace nomad_iis::config
