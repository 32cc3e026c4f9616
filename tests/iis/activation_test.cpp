#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "iis/activation_socket.hpp"
#include "iis/listen_group.hpp"
#include "iis/net_probe.hpp"
#include "iis/pool_activity.hpp"
#include "iis/process.hpp"
#include "iis/process_monitor.hpp"
#include "test_support.hpp"

using namespace nomad_iis::iis;
using nomad_iis::unique_fd;
using nomad_iis::iis::test::temp_dir;

namespace {

/// Connects to `name` in `dir` the way the front does (through the folder).
unique_fd connect_in(const std::string& dir, const std::string& name) {
  unique_fd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = "/proc/self/fd/" + std::to_string(dir_fd.get()) + "/" + name;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fd.reset();
  return fd;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(activation)

BOOST_AUTO_TEST_CASE(listening_socket_is_bound_relative_and_published_under_its_public_name) {
  temp_dir root;
  // Longer than sun_path: the bound name stays relative.
  const std::string dir = root.path() + "/" + std::string(120, 'd');
  std::filesystem::create_directories(dir + "/run");
  auto first = listen_unix(dir, "run/p.bind", "run/p.sock", 10);
  sockaddr_un address{};
  socklen_t length = sizeof address;
  ::getsockname(first.get(), reinterpret_cast<sockaddr*>(&address), &length);
  BOOST_TEST(std::string(address.sun_path) == "run/p.bind");  // what nginx matches
  BOOST_TEST(!has_pending_connection(first.get()));
  auto client = connect_in(dir, "run/p.sock");
  BOOST_REQUIRE(client);
  BOOST_TEST(has_pending_connection(first.get()));

  // A new socket takes both names at once; the old one keeps what it queued.
  auto second = listen_unix(dir, "run/p.bind", "run/p.sock", 10);
  auto later = connect_in(dir, "run/p.sock");
  BOOST_REQUIRE(later);
  BOOST_TEST(has_pending_connection(second.get()));
  const int accepted = ::accept(first.get(), nullptr, nullptr);
  BOOST_TEST(accepted >= 0);
  ::close(accepted);
  BOOST_TEST(!has_pending_connection(first.get()));
  remove_socket_file(dir, "run/p.sock");
  BOOST_TEST(!connect_in(dir, "run/p.sock"));
}

BOOST_AUTO_TEST_CASE(a_reserved_port_refuses_and_cannot_be_taken) {
  const int port = pick_loopback_port();
  auto hold = reserve_tcp_port(port);
  BOOST_REQUIRE(hold);
  BOOST_TEST(!accepts_tcp("127.0.0.1", port));
  BOOST_TEST(!reserve_tcp_port(port));
  hold.reset();
  BOOST_TEST(!check_bindable("127.0.0.1", port).has_value());
}

BOOST_AUTO_TEST_CASE(monitor_reports_a_pending_connection_once) {
  temp_dir root;
  auto listener = listen_unix(root.path(), "a.sock", "a.sock", 10);
  process_monitor monitor;
  auto fired = std::make_shared<std::promise<void>>();
  monitor.watch_readable(listener.get(), [fired] { fired->set_value(); });
  auto client = connect_in(root.path(), "a.sock");
  BOOST_TEST((fired->get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready));
  BOOST_TEST(monitor.size() == 0u);  // one-shot
  // An unwatched socket reports nothing.
  unique_fd accepted(::accept(listener.get(), nullptr, nullptr));
  auto called = std::make_shared<std::atomic<bool>>(false);
  const auto id = monitor.watch_readable(listener.get(), [called] { *called = true; });
  monitor.unwatch(id);
  auto late = connect_in(root.path(), "a.sock");
  BOOST_TEST(monitor.size() == 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_TEST(!*called);
}

BOOST_AUTO_TEST_CASE(spawned_process_inherits_exactly_the_given_descriptors) {
  temp_dir root;
  auto listener = listen_unix(root.path(), "b.sock", "b.sock", 10);
  const std::string out = root.path() + "/fds.txt";
  unique_fd out_fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  spawn_request request;
  request.path = "/bin/sh";
  request.args = {"sh", "-c", "ls /proc/self/fd; readlink /proc/self/fd/3"};
  request.stdout_fd = out_fd.get();
  request.inherit_fds = {listener.get()};
  const auto child = spawn_process(request);
  BOOST_TEST(test::eventually([&] { return !is_alive(child); }));
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // 0-2, 3 and the fd ls opens for /proc/self/fd; nothing else of ours.
  BOOST_TEST(text.find("socket:[") != std::string::npos, text);
  BOOST_TEST(text.rfind("0\n1\n2\n3\n", 0) == 0u, text);
  BOOST_TEST(text.find("\n5\n") == std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(activity_log_is_taken_once) {
  temp_dir root;
  const std::string log = root.path() + "/activity.log";
  BOOST_TEST(!take_activity(log));  // missing
  std::ofstream(log) << ".\n";
  BOOST_TEST(take_activity(log));
  BOOST_TEST(!take_activity(log));
  BOOST_TEST(std::filesystem::file_size(log) == 0u);
}

BOOST_AUTO_TEST_CASE(open_connections_are_counted_per_process_and_port) {
  temp_dir root;
  auto listener = listen_unix(root.path(), "c.bind", "c.bind", 10);
  auto client = connect_in(root.path(), "c.bind");
  BOOST_REQUIRE(client);
  const process_ref self{static_cast<std::int32_t>(::getpid()),
                         read_start_ticks(::getpid()).value_or(0)};
  BOOST_TEST(open_unix_connections({self}, "c.bind") == 0u);  // queued, not accepted
  unique_fd accepted(::accept(listener.get(), nullptr, nullptr));
  BOOST_TEST(open_unix_connections({self}, "c.bind") == 1u);
  BOOST_TEST(open_unix_connections({self}, "other.bind") == 0u);
  accepted.reset();
  BOOST_TEST(open_unix_connections({self}, "c.bind") == 0u);
  BOOST_TEST(open_tcp_connections(pick_loopback_port()) == 0u);
}

BOOST_AUTO_TEST_CASE(connections_no_one_accepted_are_counted_per_port) {
  const int port = pick_loopback_port();
  auto first = join_listen_group("127.0.0.1", port, 16);
  auto second = join_listen_group("127.0.0.1", port, 16);  // an older generation's
  for (int member : {first.get(), second.get()})
    ::fcntl(member, F_SETFL, ::fcntl(member, F_GETFL) | O_NONBLOCK);
  BOOST_TEST(queued_tcp_connections(port) == 0u);
  std::vector<unique_fd> clients;
  for (int i = 0; i < 3; ++i) {
    unique_fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    BOOST_REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) ==
                  0);
    clients.push_back(std::move(client));
  }
  // Whichever member the kernel picked: every one counts.
  BOOST_TEST(queued_tcp_connections(port) == 3u);
  BOOST_TEST(open_tcp_connections(port) == 3u);  // the clients' ends are not on it
  std::vector<unique_fd> accepted;
  for (int member : {first.get(), second.get()}) {
    while (true) {
      unique_fd one(::accept4(member, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!one) break;
      accepted.push_back(std::move(one));
    }
  }
  BOOST_TEST(accepted.size() == 3u);
  BOOST_TEST(queued_tcp_connections(port) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
