// Exec sessions on real threads with real commands (the Linux launcher):
// output is credited (at most msg::exec_output_credit chunks unacknowledged,
// the command waits on its full pipe meanwhile), many sessions share the
// launcher's one watch thread, and a task's exec_end or its going ends the
// command with 128 + signal. Input is acknowledged once the command's pipe
// took it (exec_input_ack), which is the client's credit.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/exec_session.hpp"
#include "actors/supervisor.hpp"
#include "iis/launcher.hpp"
#include "messages/type_ids.hpp"

using namespace nomad_iis;
using namespace std::chrono_literals;

namespace {

iis::exec_request command(std::vector<std::string> argv) {
  iis::exec_request request;
  request.command = std::move(argv);
  request.env = {"PATH=/usr/bin:/bin"};
  request.cwd = "/tmp";
  return request;
}

std::size_t thread_count() {
  std::size_t count = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(dir))
      if (entry->d_name[0] != '.') ++count;
    ::closedir(dir);
  }
  return count;
}

/// A stand-in for the task (spawns nothing, answers nothing).
caf::behavior idle_task(caf::event_based_actor*) {
  return {[](int) {}};
}

struct session_fixture {
  session_fixture() : sys(configured(cfg)), client(sys) {
    workers = spawn_blocking_pool(sys, 2, true);
    task = sys.spawn(idle_task);
  }
  ~session_fixture() {
    caf::anon_send_exit(task, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(workers, caf::exit_reason::user_shutdown);
  }

  static caf::actor_system_config& configured(caf::actor_system_config& c) {
    configure_actor_system(c);
    c.set("scheduler.max-threads", std::size_t{2});
    return c;
  }

  /// A started session whose client is the test's scoped actor; its input
  /// ends at once unless `end_input` is false.
  caf::actor open(std::vector<std::string> argv, bool end_input = true) {
    auto session = sys.spawn(exec_session, launcher, workers, task,
                             caf::actor_cast<caf::actor>(client), command(argv));
    std::optional<caf::actor> opened;
    client->request(session, 10s, msg::exec_begin{})
        .receive([&](msg::exec_opened& o) { opened = o.session; },
                 [&](caf::error& e) { BOOST_FAIL("exec_begin: " << caf::to_string(e)); });
    BOOST_REQUIRE(opened);
    if (end_input) client->send(*opened, msg::exec_input{{}, true});
    return *opened;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor client;
  std::shared_ptr<iis::launcher> launcher = iis::make_linux_launcher();
  caf::actor workers;
  caf::actor task;
};

/// What a session sent, read with acknowledgements as a stream bridge gives them.
struct received {
  std::string out;
  std::size_t chunks = 0;
  std::size_t largest = 0;
  std::optional<msg::exec_exited> exited;
  bool timed_out = false;
};

/// Receives one message (or a timeout) into `got`; acks output when `ack`.
void receive_one(caf::scoped_actor& client, received& got, bool ack,
                 caf::timespan wait = std::chrono::seconds(30)) {
  client->receive(
      [&](msg::exec_output& m) {
        ++got.chunks;
        got.largest = std::max(got.largest, m.bytes.size());
        got.out += m.bytes;
        if (ack)
          client->send(caf::actor_cast<caf::actor>(client->current_sender()), msg::exec_ack{});
      },
      [&](const msg::exec_exited& m) { got.exited = m; },
      caf::after(wait) >> [&] { got.timed_out = true; });
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(exec_sessions, session_fixture)

BOOST_AUTO_TEST_CASE(output_stops_at_the_credit_until_acknowledged_and_arrives_whole_in_order) {
  // seq 1 3000000: 21 MB, far past the pipe and the credit.
  auto session = open({"/usr/bin/seq", "1", "3000000"});
  received got;
  while (!got.timed_out && got.chunks < msg::exec_output_credit + 1)
    receive_one(client, got, false, std::chrono::milliseconds(1500));
  // Without acknowledgements exactly the credit came, and the command still waits.
  BOOST_TEST(got.chunks == msg::exec_output_credit);
  BOOST_TEST(!got.exited);
  // Acknowledged late (all of them, once), then one by one as a slow client does;
  // every line is checked as it comes.
  for (std::size_t i = 0; i < got.chunks; ++i) client->send(session, msg::exec_ack{});
  std::size_t next = 1;
  std::string line;
  bool in_order = true;
  got.timed_out = false;
  while (!got.exited && !got.timed_out) {
    for (char c : got.out) {
      if (c != '\n') {
        line += c;
        continue;
      }
      in_order = in_order && line == std::to_string(next);
      ++next;
      line.clear();
    }
    got.out.clear();
    receive_one(client, got, true);
  }
  BOOST_REQUIRE(got.exited);
  BOOST_TEST(got.out.empty());
  BOOST_TEST(in_order);
  BOOST_TEST(next == 3000001u);
  BOOST_TEST(got.exited->exit_code == 0);
  BOOST_TEST(got.largest <= msg::exec_output_chunk);
}

BOOST_AUTO_TEST_CASE(input_is_acknowledged_only_once_the_command_takes_it) {
  // The command reads its input after a second: until then its pipe holds
  // at most one 64 KiB chunk, and the rest waits unacknowledged.
  auto session = open({"/bin/sh", "-c", "sleep 1; wc -c"}, false);
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 4; ++i) client->send(session, msg::exec_input{chunk, false});
  client->send(session, msg::exec_input{{}, true});
  std::uint32_t acknowledged = 0;
  std::optional<std::uint32_t> before_the_read;
  received got;
  const auto start = std::chrono::steady_clock::now();
  while (!got.exited && !got.timed_out) {
    if (!before_the_read && std::chrono::steady_clock::now() - start > 600ms)
      before_the_read = acknowledged;
    client->receive([&](msg::exec_input_ack& ack) { acknowledged += ack.inputs; },
                    [&](msg::exec_output& m) {
                      got.out += m.bytes;
                      client->send(caf::actor_cast<caf::actor>(client->current_sender()),
                                   msg::exec_ack{});
                    },
                    [&](const msg::exec_exited& m) { got.exited = m; },
                    caf::after(std::chrono::milliseconds(100)) >> [] {});
    if (std::chrono::steady_clock::now() - start > 30s) got.timed_out = true;
  }
  BOOST_REQUIRE(got.exited);
  BOOST_REQUIRE(before_the_read);
  BOOST_TEST(*before_the_read <= 1u, "acknowledged before the command read: " << *before_the_read);
  BOOST_TEST(got.out == "262144\n");
  // Everything it took, the end included, was acknowledged.
  for (int i = 0; i < 20 && acknowledged < 5; ++i)
    client->receive([&](msg::exec_input_ack& ack) { acknowledged += ack.inputs; },
                    caf::after(std::chrono::milliseconds(100)) >> [] {});
  BOOST_TEST(acknowledged == 5u);
}

BOOST_AUTO_TEST_CASE(fifty_idle_sessions_add_no_threads) {
  const auto before = thread_count();
  std::vector<caf::actor> sessions;
  for (int i = 0; i < 50; ++i) sessions.push_back(open({"/bin/sh", "-c", "sleep 2; echo up"}));
  const auto during = thread_count();
  BOOST_TEST(during <= before + 2, "threads " << before << " before, " << during << " during");
  std::size_t ended = 0;
  received got;
  while (ended < 50 && !got.timed_out) {
    got.exited.reset();
    receive_one(client, got, true);
    if (got.exited) ++ended;
  }
  BOOST_TEST(ended == 50u);
  std::string each_up;
  for (int i = 0; i < 50; ++i) each_up += "up\n";
  BOOST_TEST(got.out == each_up);
}

BOOST_AUTO_TEST_CASE(exec_end_kills_the_command_and_reports_128_plus_the_signal) {
  auto session = open({"/bin/sh", "-c", "echo running; exec sleep 600"});
  received got;
  receive_one(client, got, true);
  BOOST_REQUIRE(got.out == "running\n");
  client->send(session, msg::exec_end{});
  receive_one(client, got, true, std::chrono::seconds(10));
  BOOST_REQUIRE(got.exited);
  BOOST_TEST(got.exited->exit_code == 128 + SIGKILL);
  BOOST_TEST(got.exited->signal == SIGKILL);
}

BOOST_AUTO_TEST_CASE(a_task_that_goes_ends_its_sessions_with_an_exit_code) {
  auto session = open({"/bin/sh", "-c", "echo running; exec sleep 600"});
  received got;
  receive_one(client, got, true);
  BOOST_REQUIRE(got.out == "running\n");
  caf::anon_send_exit(task, caf::exit_reason::user_shutdown);
  receive_one(client, got, true, std::chrono::seconds(10));
  BOOST_REQUIRE(got.exited);
  BOOST_TEST(got.exited->exit_code == 128 + SIGKILL);
}

BOOST_AUTO_TEST_SUITE_END()
