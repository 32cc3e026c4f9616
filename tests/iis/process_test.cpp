#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <thread>

#include "common/unique_fd.hpp"
#include "iis/proc_stats.hpp"
#include "iis/process.hpp"
#include "iis/process_monitor.hpp"
#include "iis/unix_users.hpp"
#include "test_support.hpp"

using namespace nomad_iis::iis;
using nomad_iis::unique_fd;

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

spawn_request sh(const std::string& script) {
  spawn_request request;
  request.path = "/bin/sh";
  request.args = {"sh", "-c", script};
  request.env = {"PATH=/usr/bin:/bin"};
  return request;
}

spawn_request sleeper() {
  spawn_request request;
  request.path = "/bin/sleep";
  request.args = {"sleep", "30"};
  return request;
}

/// What `request` wrote to stdout and stderr; it must exit with 0.
std::string output_of(spawn_request request) {
  const auto run = run_to_end(std::move(request), seconds(10));
  BOOST_TEST(!run.timed_out);
  BOOST_TEST(describe(run.status) == "code 0");
  return run.output;
}

/// A pipe whose write end a child inherits.
struct test_pipe {
  unique_fd read;
  unique_fd write;
  test_pipe() {
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
  /// The first line written (the writers may keep the pipe open).
  std::string line() {
    std::string text;
    char c = 0;
    while (::read(read.get(), &c, 1) == 1 && c != '\n') text += c;
    return text;
  }
  /// All that was written, once every writer is done.
  std::string text() {
    write.reset();
    std::string all;
    char buffer[256];
    ssize_t got = 0;
    while ((got = ::read(read.get(), buffer, sizeof buffer)) > 0) {
      all.append(buffer, static_cast<std::size_t>(got));
    }
    return all;
  }
};

/// No child of ours has this PID: neither running nor a zombie.
bool reaped(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 &&
         errno == ECHILD;
}

/// `pid` is dead (a zombie at most: reaping is up to whoever adopted it) within 2 s.
bool gone_soon(pid_t pid) {
  return test::eventually([pid] { return !test::pid_alive(pid); }, seconds(2));
}

}  // namespace

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

BOOST_AUTO_TEST_CASE(wait_wakes_on_the_exit_and_reports_code_and_signal) {
  auto child = spawn_child(sh("sleep 0.05; exit 7"));
  BOOST_TEST(::getsid(child.ref().pid) == child.ref().pid);
  const auto started = steady_clock::now();
  const auto status = child.wait_until(started + seconds(30));
  // Woken by the exit itself, not at the deadline or by a poll interval.
  BOOST_TEST((steady_clock::now() - started < seconds(5)));
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(describe(*status) == "code 7");
  // Not reaped yet: its PID, the number of its group, stays pinned.
  BOOST_TEST(!reaped(child.ref().pid));
  BOOST_TEST(describe(child.kill_group()) == "code 7");
  BOOST_TEST(reaped(child.ref().pid));

  auto sleeping = spawn_child(sleeper());
  BOOST_TEST(!sleeping.wait_until(steady_clock::now()).has_value());
  BOOST_TEST(sleeping.signal(SIGTERM));
  BOOST_TEST(describe(sleeping.wait()) == "signal 15");
}

BOOST_AUTO_TEST_CASE(timeout_kills_and_reaps_the_whole_group) {
  test_pipe background;
  auto request = sh("sleep 30 & echo $! >&3; sleep 30");
  request.inherit_fds = {background.write.get()};
  auto child = spawn_child(request);
  const pid_t group = child.ref().pid;
  const pid_t left_behind = std::stoi(background.line());
  BOOST_TEST(::getpgid(left_behind) == group);
  BOOST_TEST(!child.wait_until(steady_clock::now() + milliseconds(200)).has_value());
  BOOST_TEST(describe(child.kill_group()) == "signal 9");
  BOOST_TEST(reaped(group));
  BOOST_TEST(gone_soon(left_behind));
  // The group empties once whoever adopted it has reaped what was left.
  BOOST_TEST(test::eventually([group] { return ::kill(-group, 0) != 0; }, seconds(5)));
  BOOST_TEST(!child.signal(SIGKILL));
}

BOOST_AUTO_TEST_CASE(a_dropped_child_is_killed_and_reaped) {
  pid_t running = 0;
  pid_t exited = 0;
  {
    auto child = spawn_child(sleeper());
    running = child.ref().pid;
    auto quick = spawn_child(sh("exit 0"));
    exited = quick.ref().pid;
    BOOST_TEST(quick.wait().known);
  }
  BOOST_TEST(reaped(running));
  BOOST_TEST(reaped(exited));
  BOOST_TEST(gone_soon(running));
  // Moving one onto another drops (kills and reaps) the one it replaces.
  auto first = spawn_child(sleeper());
  const pid_t replaced = first.ref().pid;
  first = spawn_child(sleeper());
  BOOST_TEST(reaped(replaced));
  BOOST_TEST(first.signal(0));
}

BOOST_AUTO_TEST_CASE(a_released_child_runs_on_for_the_monitor) {
  const auto ref = spawn_child(sh("sleep 0.05; exit 4")).release();
  BOOST_TEST(!reaped(ref.pid));
  process_monitor monitor;
  std::promise<exit_status> exited;
  monitor.watch(ref, [&](exit_status status) { exited.set_value(status); });
  auto future = exited.get_future();
  BOOST_REQUIRE(future.wait_for(seconds(5)) == std::future_status::ready);
  BOOST_TEST(describe(future.get()) == "code 4");
  BOOST_TEST(reaped(ref.pid));
}

BOOST_AUTO_TEST_CASE(run_to_end_captures_output_and_stops_at_the_limit) {
  auto run = run_to_end(sh("echo out; echo err >&2; exit 3"), seconds(10));
  BOOST_TEST(!run.timed_out);
  BOOST_TEST(describe(run.status) == "code 3");
  BOOST_TEST(run.output == "out\nerr\n");

  run = run_to_end(sh("seq 1 100000"), seconds(10), 100);
  BOOST_TEST(run.output.size() == 100u);
  BOOST_TEST(run.output.substr(run.output.size() - 7) == "100000\n");

  run = run_to_end(sh("echo started; sleep 30"), milliseconds(300));
  BOOST_TEST(run.timed_out);
  BOOST_TEST(describe(run.status) == "signal 9");
  BOOST_TEST(run.output == "started\n");

  // Something it leaves running keeps the pipe open: the end of the helper
  // counts, not the end of its output, and what it left goes with its group.
  const auto started = steady_clock::now();
  run = run_to_end(sh("sleep 30 & echo $!"), seconds(30));
  BOOST_TEST((steady_clock::now() - started < seconds(10)));
  BOOST_TEST(!run.timed_out);
  BOOST_TEST(describe(run.status) == "code 0");
  BOOST_TEST(gone_soon(std::stoi(run.output)));
}

BOOST_AUTO_TEST_CASE(start_errors_throw_and_leave_nothing_behind) {
  spawn_request request;
  request.path = "/nonexistent/program";
  request.args = {"program"};
  BOOST_CHECK_EXCEPTION(spawn_child(request), std::runtime_error, [](const std::exception& e) {
    return std::string(e.what()) == "exec /nonexistent/program: No such file or directory";
  });
  BOOST_CHECK_THROW(run_to_end(request, seconds(1)), std::runtime_error);
  auto in_missing_dir = sh("true");
  in_missing_dir.cwd = "/nonexistent/dir";
  BOOST_CHECK_EXCEPTION(
      spawn_child(in_missing_dir), std::runtime_error, [](const std::exception& e) {
        return std::string(e.what()) == "chdir /nonexistent/dir: No such file or directory";
      });
  siginfo_t info{};  // no zombie left
  BOOST_TEST((::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0));
}

BOOST_AUTO_TEST_CASE(inherits_only_the_given_descriptors_as_3_4) {
  test_pipe a;
  test_pipe b;
  // Not close-on-exec, above what the shell opens itself: must not be inherited.
  unique_fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  unique_fd stray(::fcntl(null.get(), F_DUPFD, 100));
  // Given in the other order than their numbers: 3 is b's, 4 is a's.
  auto request = sh("echo to-b >&3; echo to-a >&4; ls /proc/$$/fd");
  request.inherit_fds = {b.write.get(), a.write.get()};
  const auto listed = output_of(request);
  BOOST_TEST(b.text() == "to-b\n");
  BOOST_TEST(a.text() == "to-a\n");
  BOOST_TEST(listed == "0\n1\n2\n3\n4\n");
  BOOST_TEST(listed.find(std::to_string(stray.get()) + "\n") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(switches_user_and_groups) {
  if (::geteuid() != 0) return;  // only root can switch
  unix_account nobody;
  nobody.uid = nobody.gid = 65534;
  nobody.groups = {65534};
  auto request = sh("id -u; id -g; id -G; grep NoNewPrivs /proc/self/status");
  request.account = nobody;
  request.no_new_privs = true;
  BOOST_TEST(output_of(request) == "65534\n65534\n65534\nNoNewPrivs:\t1\n");
}

BOOST_AUTO_TEST_CASE(runs_as_a_real_second_user_in_its_folder) {
  if (::geteuid() != 0) return;  // only root makes users and switches
  const std::string name = pool_user_name("process-test", std::to_string(::getpid()), "p");
  const auto comment = managed_user_comment("unit test");
  auto account = ensure_managed_user(name, comment);
  struct user_guard {
    std::string name, comment;
    ~user_guard() { remove_managed_user(name, comment); }
  } remove_user{name, comment};
  test::temp_dir dir;
  const std::string own = dir.path() + "/own";
  const std::string closed = dir.path() + "/closed";
  BOOST_REQUIRE(::mkdir(own.c_str(), 0700) == 0 && ::chown(own.c_str(), account.uid, 0) == 0);
  BOOST_REQUIRE(::mkdir(closed.c_str(), 0700) == 0);
  // Its supplementary groups are the account's list, whatever root's are.
  account.groups = {account.gid, 65534};
  auto request = sh("id -u; id -g; id -G; pwd; grep NoNewPrivs /proc/self/status");
  request.account = account;
  request.cwd = own;
  const auto id = std::to_string(account.uid);
  const auto gid = std::to_string(account.gid);
  BOOST_TEST(output_of(request) ==
             id + "\n" + gid + "\n" + gid + " 65534\n" + own + "\nNoNewPrivs:\t0\n");
  // The folder is entered as the account: root's rights do not carry over.
  request.cwd = closed;
  BOOST_CHECK_EXCEPTION(spawn_child(request), std::runtime_error, [&](const std::exception& e) {
    return std::string(e.what()) == "chdir " + closed + ": Permission denied";
  });
}

BOOST_AUTO_TEST_CASE(a_reused_pid_is_never_signalled) {
  if (::geteuid() != 0) return;  // steering the next PID takes root
  auto first = spawn_child(sleeper());
  const auto old = first.ref();
  // Ticks are 10 ms: the one that takes its PID must start later to differ.
  std::this_thread::sleep_for(milliseconds(50));
  first.kill_group();
  std::optional<child_process> second;
  for (int attempt = 0; attempt < 50 && !second; ++attempt) {
    std::ofstream("/proc/sys/kernel/ns_last_pid") << old.pid - 1;
    auto candidate = spawn_child(sleeper());
    if (candidate.ref().pid == old.pid) second = std::move(candidate);
  }
  if (!second) {
    BOOST_TEST_MESSAGE("could not steer a new process onto PID " << old.pid << "; skipped");
    return;
  }
  BOOST_TEST(!first.signal(SIGKILL));
  BOOST_TEST(!send_signal(old, SIGKILL));
  BOOST_TEST(!is_alive(old));
  BOOST_TEST(!second->wait_until(steady_clock::now() + milliseconds(100)).has_value());
  BOOST_TEST(is_alive(second->ref()));
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
