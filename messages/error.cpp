#include "messages/error.hpp"

#include <array>
#include <cstddef>
#include <optional>

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace nomad_iis {
namespace {

struct row {
  ec code;
  /// The backend failure this ec stands for, if any.
  std::optional<iis::errc> backend;
  error_route route;
};

constexpr auto unsaid = retry::unsaid;
constexpr auto no = retry::no;
constexpr auto yes = retry::yes;

// One row per ec, in enum order. gRPC: Nomad's own driver server answers
// every retryable StartTask failure with FAILED_PRECONDITION and the
// RecoverableError detail, so do we; a config error is INVALID_ARGUMENT and
// not retryable (a restart would fail the same way). HTTP: a failed backend
// operation is 409 "operation_failed", whatever the reason.
// clang-format off
constexpr std::array<row, 15> table{{
  // ec                    backend failure              name                gRPC code                       Nomad retries  HTTP  "error"              replaced texts: gRPC, HTTP
  {ec::none,             {},                        {"none",             rpc_code::internal,            unsaid, 409, "operation_failed", "", ""}},
  {ec::task_not_found,   {},                        {"task_not_found",   rpc_code::not_found,           unsaid, 404, "not_found",        "", "no such allocation and task on this node"}},
  {ec::invalid_config,   iis::errc::invalid_config, {"invalid_config",   rpc_code::invalid_argument,    no,     409, "operation_failed", "", ""}},
  {ec::start_failed,     {},                        {"start_failed",     rpc_code::failed_precondition, yes,    409, "operation_failed", "", ""}},
  {ec::recover_failed,   {},                        {"recover_failed",   rpc_code::failed_precondition, unsaid, 409, "operation_failed", "", ""}},
  {ec::task_running,     {},                        {"task_running",     rpc_code::failed_precondition, unsaid, 409, "operation_failed", "", ""}},
  {ec::unsupported,      {},                        {"unsupported",      rpc_code::invalid_argument,    unsaid, 400, "invalid_argument", "", ""}},
  {ec::invalid_argument, iis::errc::not_found,      {"invalid_argument", rpc_code::invalid_argument,    unsaid, 400, "invalid_argument", "", ""}},
  {ec::operation_failed, {},                        {"operation_failed", rpc_code::internal,            unsaid, 409, "operation_failed", "", ""}},
  {ec::shutting_down,    {},                        {"shutting_down",    rpc_code::aborted,             unsaid, 503, "shutting_down",    "", ""}},
  {ec::port_in_use,      iis::errc::port_in_use,    {"port_in_use",      rpc_code::failed_precondition, yes,    409, "operation_failed", "", ""}},
  {ec::process_failed,   iis::errc::process_failed, {"process_failed",   rpc_code::failed_precondition, yes,    409, "operation_failed", "", ""}},
  {ec::io_failure,       iis::errc::io_failure,     {"io_failure",       rpc_code::failed_precondition, yes,    409, "operation_failed", "", ""}},
  {ec::busy,             {},                        {"busy",             rpc_code::aborted,             unsaid, 503, "busy",             "", ""}},
  {ec::pool_not_found,   {},                        {"pool_not_found",   rpc_code::not_found,           unsaid, 404, "not_found",        "", ""}},
}};

// Errors CAF raises on its own.
constexpr error_route request_timeout{"request_timeout", rpc_code::deadline_exceeded, unsaid, 504, "timeout",
                                      "the driver did not answer in time", "the task did not answer in time"};
constexpr error_route receiver_down{"task_gone", rpc_code::internal, unsaid, 404, "task_gone", "", "the task is gone"};
constexpr error_route internal{"internal", rpc_code::internal, unsaid, 500, "internal", "", ""};
// Errors of any other category (none is expected): as a failed operation.
constexpr error_route foreign{"foreign", rpc_code::internal, unsaid, 409, "operation_failed", "", ""};
// clang-format on

constexpr bool in_enum_order() {
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (static_cast<std::size_t>(table[i].code) != i) return false;
  }
  return true;
}
static_assert(in_enum_order(), "the error table has one row per ec, in enum order");
static_assert(table.size() == static_cast<std::size_t>(ec::pool_not_found) + 1,
              "every ec has a row in the error table");

// An empty caf::error (code 0: no error) has no category to ask.
bool is_ours(const caf::error& err) {
  return err && err.category() == caf::atom("nomad_iis");
}
bool is_cafs(const caf::error& err) {
  return err && err.category() == caf::atom("system");
}
constexpr caf::atom_value files_category = caf::atom("files");
constexpr caf::atom_value inspect_category = caf::atom("inspect");

/// The (code, message) context of an error made by one of the to_error below.
bool has_code_and_message(const caf::error& err) {
  const auto& ctx = err.context();
  return ctx.size() == 2 && ctx.match_element<std::string>(0) && ctx.match_element<std::string>(1);
}

}  // namespace

std::string to_string(ec code) {
  const auto index = static_cast<std::size_t>(code);
  return index < table.size() ? std::string(table[index].route.name) : "unknown";
}

const error_route& route_of(const caf::error& err) {
  if (!err) return table[0].route;
  if (is_ours(err)) {
    const auto index = static_cast<std::size_t>(err.code());
    return index < table.size() ? table[index].route : internal;
  }
  if (is_cafs(err)) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return request_timeout;
      case caf::sec::request_receiver_down:
        return receiver_down;
      default:
        return internal;
    }
  }
  return foreign;
}

std::string grpc_text(const caf::error& err) {
  const auto& route = route_of(err);
  if (!route.grpc_text.empty()) return std::string(route.grpc_text);
  return is_ours(err) ? message_of(err) : caf::to_string(err);
}

std::string http_text(const caf::error& err) {
  const auto& route = route_of(err);
  if (!route.http_text.empty()) return std::string(route.http_text);
  return is_cafs(err) ? caf::to_string(err) : message_of(err);
}

ec ec_of(iis::errc code) {
  for (const auto& r : table) {
    if (r.backend == code) return r.code;
  }
  return ec::operation_failed;
}

caf::error to_error(const iis::failure& failure, const std::string& context) {
  return caf::make_error(ec_of(failure.code), context + failure.message);
}

iis::failure failure_of(const caf::error& err, iis::errc otherwise) {
  iis::failure result{otherwise, message_of(err)};
  if (is_ours(err)) {
    const auto index = static_cast<std::size_t>(err.code());
    if (index < table.size() && table[index].backend) result.code = *table[index].backend;
  }
  return result;
}

ec code_of(const caf::error& err) {
  if (is_ours(err)) return static_cast<ec>(err.code());
  return ec::operation_failed;
}

std::string message_of(const caf::error& err) {
  if (!err) return to_string(ec::none);
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) return ctx.get_as<std::string>(0);
  if (is_ours(err)) return to_string(static_cast<ec>(err.code()));
  return caf::to_string(err);
}

caf::error to_error(const files::file_failure& failure) {
  return caf::error(static_cast<std::uint8_t>(failure.kind), files_category,
                    caf::make_message(failure.code, failure.message));
}

std::optional<files::file_failure> file_failure_of(const caf::error& err) {
  if (!err || err.category() != files_category || !has_code_and_message(err)) return std::nullopt;
  const auto& ctx = err.context();
  return files::file_failure{static_cast<files::file_errc>(err.code()), ctx.get_as<std::string>(0),
                             ctx.get_as<std::string>(1)};
}

caf::error to_error(const inspect::inspect_failure& failure) {
  return caf::error(static_cast<std::uint8_t>(failure.kind), inspect_category,
                    caf::make_message(failure.code, failure.message));
}

std::optional<inspect::inspect_failure> inspect_failure_of(const caf::error& err) {
  if (!err || err.category() != inspect_category || !has_code_and_message(err)) return std::nullopt;
  const auto& ctx = err.context();
  return inspect::inspect_failure{static_cast<inspect::inspect_errc>(err.code()),
                                  ctx.get_as<std::string>(0), ctx.get_as<std::string>(1)};
}

}  // namespace nomad_iis
