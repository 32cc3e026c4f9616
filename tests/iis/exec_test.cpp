#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "iis/exec.hpp"
#include "iis/failure.hpp"
#include "iis/linux_exec.hpp"
#include "iis/process.hpp"

using namespace nomad_iis::iis;

namespace {

site_plan two_pools(std::map<std::string, std::string> env = {}) {
  site_plan plan;
  plan.task_dir = "/alloc/app";
  pool_plan a;
  a.name = "a";
  a.run_as_user = "user-a";
  a.env = env;
  pool_plan b = a;
  b.name = "b";
  b.run_as_user = "nobody";
  plan.pools = {a, b};
  return plan;
}

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

/// What a command wrote, and how it ended, collected from pump().
struct collected {
  std::mutex mutex;
  std::string out, err;
  exit_status status;

  exec_process::output_fn sink() {
    return [this](exec_stream stream, std::string bytes) {
      std::lock_guard lock(mutex);
      (stream == exec_stream::err ? err : out) += bytes;
    };
  }
};

exec_request command(std::vector<std::string> argv, bool tty = false) {
  exec_request request;
  request.command = std::move(argv);
  request.env = {"PATH=/usr/bin:/bin", "TERM=xterm"};
  request.cwd = "/tmp";
  request.tty = tty;
  return request;
}

/// Pumps `process` on a thread of its own, as the exec session does.
std::future<exit_status> pump_async(std::shared_ptr<exec_process> process, collected& into) {
  return std::async(std::launch::async,
                    [process, sink = into.sink()] { return process->pump(sink); });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(exec)

BOOST_AUTO_TEST_CASE(the_first_pool_runs_commands_unless_the_task_env_names_another) {
  auto request = plan_exec(two_pools({{"GREETING", "hi"}}), {"/bin/sh", "-c", "id"}, false);
  BOOST_TEST(request.pool == "a");
  BOOST_TEST(*request.run_as_user == "user-a");
  BOOST_TEST(request.cwd == "/alloc/app");
  BOOST_TEST(has(request.env, "GREETING=hi"));
  BOOST_TEST(has(request.env, "PATH=/usr/local/bin:/usr/bin:/bin"));  // a shell needs one
  BOOST_TEST(!has(request.env, "TERM=xterm-256color"));               // no terminal

  request = plan_exec(two_pools({{exec_pool_variable, "b"}, {"PATH", "/opt/bin"}}), {"id"}, true);
  BOOST_TEST(request.pool == "b");
  BOOST_TEST(*request.run_as_user == "nobody");
  BOOST_TEST(has(request.env, "PATH=/opt/bin"));
  BOOST_TEST(!has(request.env, "PATH=/usr/local/bin:/usr/bin:/bin"));
  BOOST_TEST(has(request.env, "TERM=xterm-256color"));
}

BOOST_AUTO_TEST_CASE(an_unknown_pool_or_an_empty_command_is_refused_by_name) {
  try {
    plan_exec(two_pools({{exec_pool_variable, "c"}}), {"id"}, false);
    BOOST_FAIL("an unknown pool was accepted");
  } catch (const backend_error& e) {
    BOOST_TEST(std::string(to_string(e.code())) == "invalid_config");
    BOOST_TEST(std::string(e.what()).find("\"c\"") != std::string::npos);
    BOOST_TEST(std::string(e.what()).find("pools: a, b") != std::string::npos);
  }
  BOOST_CHECK_THROW(plan_exec(two_pools(), {}, false), backend_error);
  BOOST_CHECK_THROW(plan_exec(site_plan{}, {"id"}, false), backend_error);
}

BOOST_AUTO_TEST_CASE(a_command_gets_its_input_and_its_output_and_exit_code_come_back) {
  collected got;
  auto process = start_exec_process(command({"/bin/sh", "-c", "cat; echo oops >&2; exit 7"}));
  auto ended = pump_async(process, got);
  process->write("first ");
  process->write("second\n");
  process->close_input();
  BOOST_REQUIRE(ended.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  const auto status = ended.get();
  BOOST_TEST(status.known);
  BOOST_TEST(status.code == 7);
  BOOST_TEST(got.out == "first second\n");
  BOOST_TEST(got.err == "oops\n");
}

BOOST_AUTO_TEST_CASE(a_terminal_is_the_controlling_tty_and_takes_resizes) {
  collected got;
  auto process = start_exec_process(
      command({"/bin/sh", "-c", "read line; tty; stty size; ps -o tty= -p $$"}, true));
  auto ended = pump_async(process, got);
  process->resize(24, 99);
  process->write("go\n");
  BOOST_REQUIRE(ended.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  BOOST_TEST(ended.get().code == 0);
  BOOST_TEST(got.out.find("/dev/pts/") != std::string::npos, got.out);
  BOOST_TEST(got.out.find("24 99") != std::string::npos, got.out);
  BOOST_TEST(got.out.find("pts/") != got.out.rfind("pts/"), got.out);  // ps shows its tty
  BOOST_TEST(got.err.empty());                                         // one stream on a terminal
}

BOOST_AUTO_TEST_CASE(cancel_kills_the_command_and_what_it_started) {
  collected got;
  auto process = start_exec_process(command({"/bin/sh", "-c", "sleep 600 & echo $!; wait"}));
  auto ended = pump_async(process, got);
  pid_t child = 0;
  for (int i = 0; i < 100 && child == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard lock(got.mutex);
    if (!got.out.empty()) child = std::stoi(got.out);
  }
  BOOST_REQUIRE(child > 0);
  process->cancel();
  BOOST_REQUIRE(ended.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  BOOST_TEST(ended.get().signal == SIGKILL);
  // The sleep was in the command's process group: gone too (reaped by init or a zombie of ours).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !is_alive(process_ref{child, read_start_ticks(child).value_or(0)});
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_TEST(gone);
}

BOOST_AUTO_TEST_CASE(an_unknown_command_is_refused_with_its_name) {
  for (const std::string name : {"no-such-command-here", "/nonexistent/tool"}) {
    try {
      start_exec_process(command({name}));
      BOOST_FAIL("started " + name);
    } catch (const backend_error& e) {
      BOOST_TEST(std::string(to_string(e.code())) == "not_found");
      BOOST_TEST(std::string(e.what()).find(name) != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(as_root_the_command_runs_as_the_pool_user) {
  if (::geteuid() != 0) return;  // only root can switch
  collected got;
  auto request = command({"/bin/sh", "-c", "id -u; id -g"});
  request.run_as_user = "nobody";
  auto process = start_exec_process(request);
  process->close_input();
  auto ended = pump_async(process, got);
  BOOST_REQUIRE(ended.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  BOOST_TEST(ended.get().code == 0);
  const auto nobody = find_account("nobody");
  BOOST_REQUIRE(nobody);
  BOOST_TEST(got.out == std::to_string(nobody->uid) + "\n" + std::to_string(nobody->gid) + "\n");

  request.run_as_user = "no-such-user-for-exec";
  BOOST_CHECK_THROW(start_exec_process(request), backend_error);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
