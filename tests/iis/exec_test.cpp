#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "iis/exec.hpp"
#include "iis/failure.hpp"
#include "iis/linux_exec.hpp"
#include "iis/process.hpp"
#include "iis/process_monitor.hpp"

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

exec_request command(std::vector<std::string> argv, bool tty = false) {
  exec_request request;
  request.command = std::move(argv);
  request.env = {"PATH=/usr/bin:/bin", "TERM=xterm"};
  request.cwd = "/tmp";
  request.tty = tty;
  return request;
}

enum ready_what { out_ready, err_ready, input_ready, exit_ready };

/// Drives a command as its exec session does (actors/exec_session.cpp), on
/// the test's thread: the process_monitor's callbacks queue what became
/// ready, and each is handled with one non-blocking read or write.
class driver {
 public:
  explicit driver(std::shared_ptr<exec_process> process) : process_(std::move(process)) {}

  /// Handles events until the command ended and its output is read (true),
  /// or `until` holds (true), or `limit` passes (false).
  bool run(std::chrono::seconds limit = std::chrono::seconds(10),
           const std::function<bool()>& until = {}) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    arm();
    while (!done()) {
      if (until && until()) return true;
      std::unique_lock lock(events_->mutex);
      if (!events_->changed.wait_until(lock, deadline, [&] { return !events_->ready.empty(); }))
        return false;
      const auto what = events_->ready.front();
      events_->ready.erase(events_->ready.begin());
      lock.unlock();
      handle(what);
    }
    return true;
  }

  /// Queues input as exec_input does.
  void write(std::string bytes, bool close = false) {
    if (!process_->write(std::move(bytes), close) && !input_armed_) {
      input_armed_ = true;
      process_->await_input(wake(input_ready));
    }
  }

  std::string out, err;
  std::optional<exit_status> status;
  std::size_t largest_read = 0;

 private:
  bool done() const { return status && !open_[0] && !open_[1]; }

  /// Shared with the callbacks: one may still run as the driver goes.
  struct events {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<ready_what> ready;
  };

  std::function<void()> wake(ready_what what) {
    return [events = events_, what] {
      std::lock_guard lock(events->mutex);
      events->ready.push_back(what);
      events->changed.notify_all();
    };
  }

  void arm() {
    if (!exit_armed_ && !status) {
      exit_armed_ = true;
      process_->await_exit(wake(exit_ready));
    }
    for (auto stream : {exec_stream::out, exec_stream::err}) {
      const auto i = static_cast<std::size_t>(stream);
      if (open_[i] && !armed_[i]) {
        armed_[i] = true;
        process_->await_output(stream, wake(i == 0 ? out_ready : err_ready));
      }
    }
  }

  /// One read; false when nothing more comes now.
  bool read(exec_stream stream) {
    auto got = process_->read(stream, chunk);
    largest_read = std::max(largest_read, got.bytes.size());
    (stream == exec_stream::err ? err : out) += got.bytes;
    if (got.ended) open_[static_cast<std::size_t>(stream)] = false;
    return !got.bytes.empty();
  }

  void handle(ready_what what) {
    if (what == input_ready) {
      input_armed_ = false;
      write({});
      return;
    }
    if (what == exit_ready) {
      status = process_->exited();
      exit_armed_ = false;
    } else {
      armed_[what] = false;
      read(what == out_ready ? exec_stream::out : exec_stream::err);
    }
    if (status) {
      // What is there after its end is all it wrote.
      for (auto stream : {exec_stream::out, exec_stream::err}) {
        while (open_[static_cast<std::size_t>(stream)] && read(stream)) {
        }
        open_[static_cast<std::size_t>(stream)] = false;
      }
      return;
    }
    arm();
  }

  static constexpr std::size_t chunk = 64 * 1024;
  std::shared_ptr<exec_process> process_;
  std::shared_ptr<events> events_ = std::make_shared<events>();
  bool open_[2] = {true, true};
  bool armed_[2] = {false, false};
  bool exit_armed_ = false;
  bool input_armed_ = false;
};

/// One watch thread for every test's commands, as the launcher has.
const std::shared_ptr<process_monitor>& monitor() {
  static const auto shared = std::make_shared<process_monitor>();
  return shared;
}

std::shared_ptr<exec_process> start(const exec_request& request) {
  return start_exec_process(request, monitor());
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
  driver got(start(command({"/bin/sh", "-c", "cat; echo oops >&2; exit 7"})));
  got.write("first ");
  got.write("second\n");
  got.write({}, true);
  BOOST_REQUIRE(got.run());
  BOOST_TEST(got.status->known);
  BOOST_TEST(got.status->code == 7);
  BOOST_TEST(got.out == "first second\n");
  BOOST_TEST(got.err == "oops\n");
}

BOOST_AUTO_TEST_CASE(a_terminal_is_the_controlling_tty_and_takes_resizes) {
  auto process =
      start(command({"/bin/sh", "-c", "read line; tty; stty size; ps -o tty= -p $$"}, true));
  driver got(process);
  process->resize(24, 99);
  got.write("go\n");
  BOOST_REQUIRE(got.run());
  BOOST_TEST(got.status->code == 0);
  BOOST_TEST(got.out.find("/dev/pts/") != std::string::npos, got.out);
  BOOST_TEST(got.out.find("24 99") != std::string::npos, got.out);
  BOOST_TEST(got.out.find("pts/") != got.out.rfind("pts/"), got.out);  // ps shows its tty
  BOOST_TEST(got.err.empty());                                         // one stream on a terminal
}

BOOST_AUTO_TEST_CASE(kill_ends_the_command_and_what_it_started) {
  auto process = start(command({"/bin/sh", "-c", "sleep 600 & echo $!; wait"}));
  driver got(process);
  BOOST_REQUIRE(got.run(std::chrono::seconds(10), [&] { return !got.out.empty(); }));
  const pid_t child = std::stoi(got.out);
  BOOST_REQUIRE(child > 0);
  process->kill();
  BOOST_REQUIRE(got.run());
  BOOST_TEST(got.status->signal == SIGKILL);
  process.reset();
  // The sleep was in the command's process group: gone too (reaped by init or a zombie of ours).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !is_alive(process_ref{child, read_start_ticks(child).value_or(0)});
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_TEST(gone);
}

BOOST_AUTO_TEST_CASE(unread_output_holds_the_command_on_a_full_pipe_and_nothing_is_lost) {
  // Nobody reads: the command waits on its full pipe instead of the plugin buffering.
  auto process = start(command({"/bin/sh", "-c", "head -c 4194304 /dev/zero; echo done >&2"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(!process->exited().has_value());
  driver got(process);
  BOOST_REQUIRE(got.run());
  BOOST_TEST(got.status->code == 0);
  BOOST_TEST(got.out.size() == 4194304u);
  BOOST_TEST(got.out.find_first_not_of('\0') == std::string::npos);
  BOOST_TEST(got.err == "done\n");
  BOOST_TEST(got.largest_read <= 64u * 1024u);  // one bounded read per turn
}

BOOST_AUTO_TEST_CASE(input_past_the_pipe_buffer_is_queued_without_blocking) {
  driver got(start(command({"/bin/sh", "-c", "sleep 0.3; wc -c"})));
  const auto before = std::chrono::steady_clock::now();
  got.write(std::string(1024 * 1024, 'x'), true);  // 16 pipe buffers; the command reads later
  BOOST_TEST((std::chrono::steady_clock::now() - before < std::chrono::milliseconds(200)));
  BOOST_REQUIRE(got.run());
  BOOST_TEST(got.status->code == 0);
  BOOST_TEST(got.out == "1048576\n");
}

BOOST_AUTO_TEST_CASE(output_left_behind_by_what_the_command_started_does_not_hold_its_end) {
  // The background sleep keeps the pipe open; the end comes with the command's.
  driver got(start(command({"/bin/sh", "-c", "sleep 600 & echo started; exit 3"})));
  const auto before = std::chrono::steady_clock::now();
  BOOST_REQUIRE(got.run());
  BOOST_TEST((std::chrono::steady_clock::now() - before < std::chrono::seconds(5)));
  BOOST_TEST(got.status->code == 3);
  BOOST_TEST(got.out == "started\n");
}

BOOST_AUTO_TEST_CASE(an_unknown_command_is_refused_with_its_name) {
  for (const std::string name : {"no-such-command-here", "/nonexistent/tool"}) {
    try {
      start(command({name}));
      BOOST_FAIL("started " + name);
    } catch (const backend_error& e) {
      BOOST_TEST(std::string(to_string(e.code())) == "not_found");
      BOOST_TEST(std::string(e.what()).find(name) != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(as_root_the_command_runs_as_the_pool_user) {
  if (::geteuid() != 0) return;  // only root can switch
  auto request = command({"/bin/sh", "-c", "id -u; id -g"});
  request.run_as_user = "nobody";
  driver got(start(request));
  got.write({}, true);
  BOOST_REQUIRE(got.run());
  BOOST_TEST(got.status->code == 0);
  const auto nobody = find_account("nobody");
  BOOST_REQUIRE(nobody);
  BOOST_TEST(got.out == std::to_string(nobody->uid) + "\n" + std::to_string(nobody->gid) + "\n");

  request.run_as_user = "no-such-user-for-exec";
  BOOST_CHECK_THROW(start(request), backend_error);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
