#pragma once
// The driver's one error enum, and the one table (error.cpp) that says what
// each error means to each caller: Nomad over gRPC (status code, whether the
// start may be retried) and Management API clients over HTTP (status and
// "error" code). Backend failures (iis::errc) map onto ec in the same table.
// The adapters consult route_of() and keep no mapping of their own; the
// context string of an error says what failed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "iis/failure.hpp"
#include "iis/files/file_error.hpp"
#include "iis/inspect/inspect_error.hpp"

namespace nomad_iis {

enum class ec : std::uint8_t {
  none = 0,
  task_not_found,    ///< unknown task id or alloc/task pair
  invalid_config,    ///< the job's config block or the driver config is wrong
  start_failed,      ///< the site could not start for a reason the backend did not name
  recover_failed,    ///< the task's processes are gone
  task_running,      ///< destroy without force on a running task
  unsupported,       ///< a signal or option this driver does not support
  invalid_argument,  ///< a request argument is wrong (pool name, path, ...)
  operation_failed,  ///< an operation cannot run now (the task is not running, ...)
  shutting_down,     ///< the plugin is exiting
  port_in_use,       ///< a binding's address is taken (iis::errc::port_in_use)
  process_failed,    ///< a site process did not come up or went away (iis::errc::process_failed)
  io_failure,        ///< a file, socket or account could not be made (iis::errc::io_failure)
  busy,              ///< every slot of a gated job (browsers, dumps) stayed taken too long
  pool_not_found,    ///< a path names an application pool the task does not have
};

std::string to_string(ec code);

}  // namespace nomad_iis

CAF_ERROR_CODE_ENUM(nomad_iis::ec, "nomad_iis")

namespace nomad_iis {

/// gRPC's canonical status codes (google.rpc.Code), so that this table needs
/// no gRPC header; adapters/grpc/status.cpp checks that they agree.
enum class rpc_code : int {
  invalid_argument = 3,
  deadline_exceeded = 4,
  not_found = 5,
  failed_precondition = 9,
  aborted = 10,
  internal = 13,
};

/// What a failed StartTask tells Nomad (PROTOCOL.md §9): `yes` attaches
/// RecoverableError{recoverable: true}, and Nomad restarts the task by its
/// restart policy; `no` attaches {recoverable: false}: the task fails for
/// good. `unsaid` attaches nothing (RPCs where Nomad does not ask).
enum class retry : std::uint8_t { unsaid, no, yes };

/// One row of the table: what an error means to each caller.
struct error_route {
  std::string_view name;  ///< "port_in_use"
  rpc_code grpc;
  retry recoverable;
  int http_status;
  std::string_view http_error;  ///< the "error" of the JSON body
  std::string_view grpc_text;   ///< replaces the error's own text for Nomad ("" keeps it)
  std::string_view http_text;   ///< replaces it for Management API clients ("" keeps it)
};

/// The row of `err`: ours by its ec; CAF's request timeout and a request to
/// an actor that is gone by rows of their own; anything else as internal.
const error_route& route_of(const caf::error& err);

/// The text Nomad sees for `err` (a gRPC status message).
std::string grpc_text(const caf::error& err);

/// The text a Management API client sees for `err`.
std::string http_text(const caf::error& err);

/// The ec a backend failure stands for.
ec ec_of(iis::errc code);

/// A backend failure as an error of ours; `context` goes before its text
/// ("stopping the site failed: ").
caf::error to_error(const iis::failure& failure, const std::string& context = {});

/// A failure a site's actor answered with, back as a backend failure: the
/// iis::errc its ec stands for, else `otherwise`; its text as it is.
iis::failure failure_of(const caf::error& err, iis::errc otherwise = iis::errc::process_failed);

/// The error code of `err` when it is one of ours, else ec::operation_failed.
ec code_of(const caf::error& err);

/// The human-readable context of an error made with caf::make_error(ec, text).
std::string message_of(const caf::error& err);

/// A refusal or failure of the task files module as an error of its own
/// category ("files"): the Management API shows its kind, code and message
/// as they are, not through the table above.
caf::error to_error(const files::file_failure& failure);

/// The file failure `err` carries, if it is one (made by to_error above).
std::optional<files::file_failure> file_failure_of(const caf::error& err);

/// A failure of a look inside a task (a screenshot, a dump) as an error of
/// its own category ("inspect"), shown as it is like a file failure.
caf::error to_error(const inspect::inspect_failure& failure);

/// The inspect failure `err` carries, if it is one.
std::optional<inspect::inspect_failure> inspect_failure_of(const caf::error& err);

}  // namespace nomad_iis
