#include "config/error.hpp"

#include <algorithm>

namespace nomad_iis::config {
namespace {

/// Enough to fix a config in one go; a hostile one cannot make the message huge.
constexpr std::size_t max_listed = 20;

}  // namespace

void problem_list::add(const config_error& error) {
  const bool known = std::any_of(errors_.begin(), errors_.end(),
                                 [&](const config_error& e) { return e.path() == error.path(); });
  if (!known) errors_.push_back(error);
}

void problem_list::throw_if_any() const {
  if (errors_.empty()) return;
  if (errors_.size() == 1) throw errors_.front();
  std::string message = std::to_string(errors_.size()) + " problems: ";
  for (std::size_t i = 0; i < errors_.size() && i < max_listed; ++i) {
    if (i > 0) message += "; ";
    message += "(" + std::to_string(i + 1) + ") " + errors_[i].what();
  }
  if (errors_.size() > max_listed)
    message += "; and " + std::to_string(errors_.size() - max_listed) + " more";
  throw config_error("", message);
}

}  // namespace nomad_iis::config
