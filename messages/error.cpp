#include "messages/error.hpp"

#include <caf/message.hpp>

namespace nomad_iis {

std::string to_string(ec code) {
  switch (code) {
    case ec::none:
      return "none";
    case ec::task_not_found:
      return "task_not_found";
    case ec::invalid_config:
      return "invalid_config";
    case ec::start_failed:
      return "start_failed";
    case ec::recover_failed:
      return "recover_failed";
    case ec::task_running:
      return "task_running";
    case ec::unsupported:
      return "unsupported";
    case ec::invalid_argument:
      return "invalid_argument";
    case ec::operation_failed:
      return "operation_failed";
    case ec::shutting_down:
      return "shutting_down";
  }
  return "unknown";
}

ec code_of(const caf::error& err) {
  if (err.category() == caf::atom("nomad_iis")) return static_cast<ec>(err.code());
  return ec::operation_failed;
}

std::string message_of(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) return ctx.get_as<std::string>(0);
  if (err.category() == caf::atom("nomad_iis")) return to_string(static_cast<ec>(err.code()));
  return caf::to_string(err);
}

}  // namespace nomad_iis
