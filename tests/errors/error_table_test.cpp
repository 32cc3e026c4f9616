#define BOOST_TEST_MODULE errors
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/error.hpp"

using namespace nomad_iis;

namespace {

constexpr auto last_ec = ec::pool_not_found;

const std::vector<iis::errc> all_errc{iis::errc::invalid_config, iis::errc::port_in_use,
                                      iis::errc::process_failed, iis::errc::io_failure,
                                      iis::errc::not_found};

std::vector<ec> all_ec() {
  std::vector<ec> out;
  for (int i = 0; i <= static_cast<int>(last_ec); ++i) out.push_back(static_cast<ec>(i));
  return out;
}

/// How an error reached each caller before the table existed (adapters/grpc/status.cpp,
/// adapters/http/task_client.cpp): the table must not change it.
struct expected {
  ec code;
  rpc_code grpc;
  retry recoverable;
  int http_status;
  std::string http_error;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(error_table)

BOOST_AUTO_TEST_CASE(every_ec_has_a_row_named_after_it) {
  for (auto code : all_ec()) {
    BOOST_TEST(to_string(code) != "unknown");
    if (code == ec::none) continue;  // caf::make_error(ec::none) is no error at all
    const auto& route = route_of(caf::make_error(code, std::string("x")));
    BOOST_TEST(std::string(route.name) == to_string(code));
  }
  BOOST_TEST(std::string(route_of(caf::error{}).name) == "none");
}

BOOST_AUTO_TEST_CASE(errors_from_before_the_table_keep_their_status_codes) {
  const std::vector<expected> cases{
      {ec::task_not_found, rpc_code::not_found, retry::unsaid, 404, "not_found"},
      {ec::invalid_config, rpc_code::invalid_argument, retry::no, 409, "operation_failed"},
      {ec::start_failed, rpc_code::failed_precondition, retry::yes, 409, "operation_failed"},
      {ec::recover_failed, rpc_code::failed_precondition, retry::unsaid, 409, "operation_failed"},
      {ec::task_running, rpc_code::failed_precondition, retry::unsaid, 409, "operation_failed"},
      {ec::unsupported, rpc_code::invalid_argument, retry::unsaid, 400, "invalid_argument"},
      {ec::invalid_argument, rpc_code::invalid_argument, retry::unsaid, 400, "invalid_argument"},
      {ec::operation_failed, rpc_code::internal, retry::unsaid, 409, "operation_failed"},
      {ec::shutting_down, rpc_code::aborted, retry::unsaid, 503, "shutting_down"},
      {ec::pool_not_found, rpc_code::not_found, retry::unsaid, 404, "not_found"},
  };
  for (const auto& want : cases) {
    const auto& route = route_of(caf::make_error(want.code, std::string("x")));
    BOOST_TEST_CONTEXT(to_string(want.code)) {
      BOOST_TEST(static_cast<int>(route.grpc) == static_cast<int>(want.grpc));
      BOOST_TEST(static_cast<int>(route.recoverable) == static_cast<int>(want.recoverable));
      BOOST_TEST(route.http_status == want.http_status);
      BOOST_TEST(std::string(route.http_error) == want.http_error);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_backend_failure_has_an_ec_of_its_own_row) {
  for (auto failed : all_errc) {
    const auto code = ec_of(failed);
    BOOST_TEST_CONTEXT(iis::to_string(failed)) {
      BOOST_TEST((code != ec::none));
      BOOST_TEST((code != ec::operation_failed));  // the fallback: no row names it
    }
  }
  BOOST_TEST(static_cast<int>(ec_of(iis::errc::invalid_config)) ==
             static_cast<int>(ec::invalid_config));
  BOOST_TEST(static_cast<int>(ec_of(iis::errc::port_in_use)) == static_cast<int>(ec::port_in_use));
  BOOST_TEST(static_cast<int>(ec_of(iis::errc::process_failed)) ==
             static_cast<int>(ec::process_failed));
  BOOST_TEST(static_cast<int>(ec_of(iis::errc::io_failure)) == static_cast<int>(ec::io_failure));
  BOOST_TEST(static_cast<int>(ec_of(iis::errc::not_found)) ==
             static_cast<int>(ec::invalid_argument));
}

BOOST_AUTO_TEST_CASE(nomad_retries_a_start_where_a_retry_can_succeed_and_only_there) {
  // A port taken, a process that died or an I/O error may pass; a config the
  // host cannot serve fails the same way on every retry.
  for (auto failed : {iis::errc::port_in_use, iis::errc::process_failed, iis::errc::io_failure}) {
    const auto& route = route_of(to_error({failed, "x"}));
    BOOST_TEST(static_cast<int>(route.recoverable) == static_cast<int>(retry::yes),
               iis::to_string(failed));
    // As Nomad's own driver server answers a recoverable error.
    BOOST_TEST(static_cast<int>(route.grpc) == static_cast<int>(rpc_code::failed_precondition));
    // The Management API's answer to a failed operation stays what it was.
    BOOST_TEST(route.http_status == 409);
    BOOST_TEST(std::string(route.http_error) == "operation_failed");
  }
  const auto& config = route_of(to_error({iis::errc::invalid_config, "x"}));
  BOOST_TEST(static_cast<int>(config.recoverable) == static_cast<int>(retry::no));
  BOOST_TEST(static_cast<int>(config.grpc) == static_cast<int>(rpc_code::invalid_argument));
}

BOOST_AUTO_TEST_CASE(a_backend_failure_keeps_its_text_after_the_context) {
  const auto err = to_error({iis::errc::port_in_use, "binding *:80: address already in use"},
                            "application pool default: ");
  BOOST_TEST(static_cast<int>(code_of(err)) == static_cast<int>(ec::port_in_use));
  BOOST_TEST(message_of(err) == "application pool default: binding *:80: address already in use");
  BOOST_TEST(grpc_text(err) == message_of(err));
  BOOST_TEST(http_text(err) == message_of(err));
}

BOOST_AUTO_TEST_CASE(texts_the_callers_saw_before_stay) {
  const auto not_found =
      caf::make_error(ec::task_not_found, std::string("task not found for given id"));
  BOOST_TEST(grpc_text(not_found) == "task not found for given id");
  BOOST_TEST(http_text(not_found) == "no such allocation and task on this node");

  const caf::error timeout = caf::sec::request_timeout;
  BOOST_TEST(static_cast<int>(route_of(timeout).grpc) ==
             static_cast<int>(rpc_code::deadline_exceeded));
  BOOST_TEST(grpc_text(timeout) == "the driver did not answer in time");
  BOOST_TEST(route_of(timeout).http_status == 504);
  BOOST_TEST(std::string(route_of(timeout).http_error) == "timeout");
  BOOST_TEST(http_text(timeout) == "the task did not answer in time");

  const caf::error gone = caf::sec::request_receiver_down;
  BOOST_TEST(static_cast<int>(route_of(gone).grpc) == static_cast<int>(rpc_code::internal));
  BOOST_TEST(grpc_text(gone) == caf::to_string(gone));
  BOOST_TEST(route_of(gone).http_status == 404);
  BOOST_TEST(std::string(route_of(gone).http_error) == "task_gone");
  BOOST_TEST(http_text(gone) == "the task is gone");

  const caf::error other = caf::sec::unexpected_message;
  BOOST_TEST(route_of(other).http_status == 500);
  BOOST_TEST(std::string(route_of(other).http_error) == "internal");
  BOOST_TEST(http_text(other) == caf::to_string(other));
  BOOST_TEST(static_cast<int>(route_of(other).grpc) == static_cast<int>(rpc_code::internal));
}

BOOST_AUTO_TEST_SUITE_END()
