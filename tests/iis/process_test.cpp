#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <future>

#include "iis/proc_stats.hpp"
#include "iis/process.hpp"
#include "iis/process_monitor.hpp"

using namespace nomad_iis::iis;

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(processes)

BOOST_AUTO_TEST_CASE(spawn_runs_in_its_own_session_and_reports_exec_errors) {
  spawn_request request;
  request.path = "/bin/sleep";
  request.args = {"sleep", "30"};
  const auto ref = spawn_process(request);
  BOOST_TEST(ref.pid > 0);
  BOOST_TEST(ref.start_ticks == *read_start_ticks(ref.pid));
  BOOST_TEST(::getsid(ref.pid) == ref.pid);
  BOOST_TEST(is_alive(ref));
  BOOST_TEST(!is_alive(process_ref{ref.pid, ref.start_ticks + 1}));
  BOOST_TEST(!send_signal(process_ref{ref.pid, ref.start_ticks + 1}, SIGKILL));
  BOOST_TEST(read_usage(ref).has_value());

  process_monitor monitor;
  std::promise<exit_status> exited;
  monitor.watch(ref, [&](exit_status status) { exited.set_value(status); });
  BOOST_TEST(send_signal(ref, SIGKILL));
  auto future = exited.get_future();
  BOOST_REQUIRE(future.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  const auto status = future.get();
  BOOST_TEST(status.known);
  BOOST_TEST(status.signal == SIGKILL);
  BOOST_TEST(describe(status) == "signal 9");
  BOOST_TEST(!is_alive(ref));
  BOOST_TEST(monitor.size() == 0u);

  request.path = "/nonexistent/binary";
  try {
    spawn_process(request);
    BOOST_FAIL("expected an exec error");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) == "exec /nonexistent/binary: No such file or directory");
  }
}

BOOST_AUTO_TEST_CASE(monitor_reports_exit_codes_and_gone_processes) {
  process_monitor monitor;
  spawn_request request;
  request.path = "/bin/sh";
  request.args = {"sh", "-c", "exit 3"};
  std::promise<exit_status> exited;
  const auto ref = spawn_process(request);
  monitor.watch(ref, [&](exit_status status) { exited.set_value(status); });
  auto future = exited.get_future();
  BOOST_REQUIRE(future.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  BOOST_TEST(future.get().code == 3);

  std::promise<exit_status> gone;
  monitor.watch(process_ref{ref.pid, ref.start_ticks}, [&](exit_status s) { gone.set_value(s); });
  auto gone_future = gone.get_future();
  BOOST_REQUIRE(gone_future.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  BOOST_TEST(!gone_future.get().known);
}

BOOST_AUTO_TEST_CASE(signal_names) {
  BOOST_TEST(signal_from_name("SIGTERM") == SIGTERM);
  BOOST_TEST(signal_from_name("int") == SIGINT);
  BOOST_TEST(signal_from_name("9") == SIGKILL);
  BOOST_TEST(signal_from_name("SIGBOGUS") == 0);
  BOOST_TEST(signal_from_name("") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
