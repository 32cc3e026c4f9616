#pragma once
// Error codes that travel between actors and adapters. Adapters map them to
// gRPC status codes and HTTP statuses; the context string says what failed.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace nomad_iis {

enum class ec : std::uint8_t {
  none = 0,
  task_not_found,    ///< unknown task id or alloc/task pair
  invalid_config,    ///< the job's config block or the driver config is wrong
  start_failed,      ///< the site could not start; a retry may succeed
  recover_failed,    ///< the task's processes are gone
  task_running,      ///< destroy without force on a running task
  unsupported,       ///< a signal or option this driver does not support
  invalid_argument,  ///< a request argument is wrong (pool name, path, ...)
  operation_failed,  ///< a backend operation failed
  shutting_down,     ///< the plugin is exiting
};

std::string to_string(ec code);

}  // namespace nomad_iis

CAF_ERROR_CODE_ENUM(nomad_iis::ec, "nomad_iis")

namespace nomad_iis {

/// The error code of `err` when it is one of ours, else ec::operation_failed.
ec code_of(const caf::error& err);

/// The human-readable context of an error made with caf::make_error(ec, text).
std::string message_of(const caf::error& err);

}  // namespace nomad_iis
