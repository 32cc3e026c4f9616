#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "iis/failure.hpp"
#include "iis/front_probe.hpp"
#include "iis/listen_group.hpp"
#include "iis/net_probe.hpp"
#include "iis/process.hpp"
#include "test_support.hpp"

using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;
using nomad_iis::unique_fd;
namespace fs = std::filesystem;

namespace {

unique_fd connect_local(int port) {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  BOOST_REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

/// How many connections wait on `member` (accepted here, without blocking).
int take_pending(int member) {
  int taken = 0;
  while (true) {
    unique_fd client(::accept4(member, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return taken;
    ++taken;
  }
}

/// `count` connections to `port`; then which members (by position) took how many.
std::vector<int> spread(int port, const std::vector<int>& members, int count) {
  std::vector<unique_fd> clients;
  for (int i = 0; i < count; ++i) clients.push_back(connect_local(port));
  std::vector<int> taken;
  for (int member : members) taken.push_back(take_pending(member));
  return taken;
}

/// A loopback connect() returns with the connection queued: accepts need not wait.
void set_nonblocking_accepts(const std::vector<int>& members) {
  for (int member : members) ::fcntl(member, F_SETFL, ::fcntl(member, F_GETFL) | O_NONBLOCK);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(listen_group)

BOOST_AUTO_TEST_CASE(members_share_the_address_and_the_program_picks_who_accepts) {
  const int port = free_port();
  auto first = join_listen_group("127.0.0.1", port, 64);
  auto second = join_listen_group("127.0.0.1", port, 64);
  set_nonblocking_accepts({first.get(), second.get()});
  // Not a member: the address is taken for everyone else.
  const auto other = check_bindable("127.0.0.1", port);
  BOOST_REQUIRE(other.has_value());
  BOOST_TEST(static_cast<int>(other->code) == static_cast<int>(errc::port_in_use));

  const auto steering = attach_listen_steering(second.get());
  BOOST_TEST((spread(port, {first.get(), second.get()}, 16) == std::vector<int>{0, 16}));
  steer_listen_group(steering.get(), first.get());  // one map for the whole group
  BOOST_TEST((spread(port, {first.get(), second.get()}, 16) == std::vector<int>{16, 0}));
  steer_listen_group(steering.get(), first.get());  // again: nothing changes, nothing fails
  BOOST_TEST((spread(port, {first.get(), second.get()}, 16) == std::vector<int>{16, 0}));
}

BOOST_AUTO_TEST_CASE(the_pick_holds_whichever_members_join_or_close) {
  const int port = free_port();
  auto a = join_listen_group("127.0.0.1", port, 64);
  auto b = join_listen_group("127.0.0.1", port, 64);
  auto c = join_listen_group("127.0.0.1", port, 64);
  set_nonblocking_accepts({a.get(), b.get(), c.get()});
  const auto steering = attach_listen_steering(b.get());
  BOOST_TEST((spread(port, {a.get(), b.get(), c.get()}, 8) == std::vector<int>{0, 8, 0}));
  // Generations drain side by side: a new member gets nothing until it is picked...
  auto d = join_listen_group("127.0.0.1", port, 64);
  set_nonblocking_accepts({d.get()});
  BOOST_TEST(
      (spread(port, {a.get(), b.get(), c.get(), d.get()}, 8) == std::vector<int>{0, 8, 0, 0}));
  // ...and an older one that closes moves nothing.
  a.reset();
  BOOST_TEST((spread(port, {b.get(), c.get(), d.get()}, 8) == std::vector<int>{8, 0, 0}));
  steer_listen_group(steering.get(), d.get());
  BOOST_TEST((spread(port, {b.get(), c.get(), d.get()}, 8) == std::vector<int>{0, 0, 8}));
  // The picked member closed: spread by hash, as without a program; nothing is refused.
  d.reset();
  const auto hashed = spread(port, {b.get(), c.get()}, 64);
  BOOST_TEST(hashed[0] + hashed[1] == 64);
  BOOST_TEST(hashed[0] > 0);
  BOOST_TEST(hashed[1] > 0);
}

BOOST_AUTO_TEST_CASE(a_restarted_plugin_steers_the_group_again) {
  const int port = free_port();
  auto first = join_listen_group("127.0.0.1", port, 64);
  auto second = join_listen_group("127.0.0.1", port, 64);
  set_nonblocking_accepts({first.get(), second.get()});
  // The plugin that made it is gone (killed): its program and map stay with the group.
  attach_listen_steering(first.get()).reset();
  BOOST_TEST((spread(port, {first.get(), second.get()}, 16) == std::vector<int>{16, 0}));
  // The next one replaces them; the member is free once the old map is.
  const auto steering = attach_listen_steering(first.get());
  BOOST_TEST((spread(port, {first.get(), second.get()}, 16) == std::vector<int>{16, 0}));
  steer_listen_group(steering.get(), second.get());
  BOOST_TEST((spread(port, {first.get(), second.get()}, 16) == std::vector<int>{0, 16}));
}

BOOST_AUTO_TEST_CASE(a_member_tells_how_many_connections_wait_for_an_accept) {
  const int port = free_port();
  auto steered_away = join_listen_group("127.0.0.1", port, 64);
  auto member = join_listen_group("127.0.0.1", port, 64);
  set_nonblocking_accepts({member.get()});
  const auto steering = attach_listen_steering(member.get());
  BOOST_TEST(queued_connections(member.get()) == 0u);
  std::vector<unique_fd> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(connect_local(port));
  BOOST_TEST(queued_connections(member.get()) == 3u);
  BOOST_TEST(queued_connections(steered_away.get()) == 0u);
  BOOST_TEST(take_pending(member.get()) == 3);
  BOOST_TEST(queued_connections(member.get()) == 0u);
  unique_fd not_listening(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  BOOST_TEST(queued_connections(not_listening.get()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_member_tells_how_many_handshakes_its_port_has_open) {
  const int port = free_port();
  auto other_port = join_listen_group("127.0.0.1", free_port(), 64);
  auto member = join_listen_group("127.0.0.1", port, 64);
  // With deferred accepts the kernel keeps a connection in SYN_RECV until
  // its first byte: a handshake that stays open as long as the test needs.
  const int wait_seconds = 30;
  BOOST_REQUIRE(::setsockopt(member.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &wait_seconds,
                             sizeof wait_seconds) == 0);
  BOOST_TEST(handshaking_connections({member.get()}) == 0u);
  auto first = connect_local(port);
  auto second = connect_local(port);
  BOOST_TEST(handshaking_connections({member.get()}) == 2u);
  BOOST_TEST(handshaking_connections({other_port.get()}) == 0u);
  BOOST_TEST(handshaking_connections({member.get(), other_port.get()}) == 2u);
  BOOST_TEST(queued_connections(member.get()) == 0u);
  BOOST_REQUIRE(::write(first.get(), "x", 1) == 1);
  for (int i = 0; i < 100 && queued_connections(member.get()) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(handshaking_connections({member.get()}) == 1u);
  BOOST_TEST(queued_connections(member.get()) == 1u);
  unique_fd not_listening(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  BOOST_TEST(handshaking_connections({not_listening.get()}) == 0u);
}

BOOST_AUTO_TEST_CASE(another_user_cannot_join_the_group) {
  const auto account = find_account("www-data");
  if (::geteuid() != 0 || !account) {
    BOOST_TEST_MESSAGE("needs root and the www-data user");
    return;
  }
  const int port = free_port();
  auto member = join_listen_group("127.0.0.1", port, 64);
  // A task's user could otherwise take a share of the site's connections.
  const int code = run_as(*account, [port] {
    try {
      join_listen_group("127.0.0.1", port, 64);
      return 0;
    } catch (const backend_error& e) {
      return e.code() == errc::port_in_use ? 3 : 4;
    }
  });
  BOOST_TEST(code == 3);
}

BOOST_AUTO_TEST_CASE(a_bad_address_is_a_config_error) {
  BOOST_CHECK_EXCEPTION(join_listen_group("300.1.2.3", 80, 64), backend_error,
                        [](const backend_error& e) {
                          return e.code() == errc::invalid_config &&
                                 std::string(e.what()).find("300.1.2.3") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()

// ---- the design it serves, with real nginx: generations swap under
// kept-alive load without a failed request ----

namespace {

/// One nginx master of a generation: its own member of the group, its own
/// folder, stub_status on a unix socket there.
struct generation {
  std::string dir;
  unique_fd member;
  child_process process;

  generation(const std::string& root, const std::string& name, int port, const std::string& body)
      : dir(root + "/" + name), member(join_listen_group("127.0.0.1", port, 511)) {
    fs::create_directories(dir + "/www");
    std::ofstream(dir + "/www/index.html") << body;
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    fs::permissions(dir + "/www", fs::perms::owner_all | fs::perms::group_exec |
                                      fs::perms::others_exec | fs::perms::others_read);
    std::ofstream(dir + "/nginx.conf")
        << "daemon off; worker_processes 1; pid " << dir << "/nginx.pid;\n"
        << "error_log " << dir << "/error.log warn;\n"
        << "events { worker_connections 512; }\n"
        << "http { access_log off; keepalive_requests 50;\n"
        << "  server { listen 127.0.0.1:" << port << "; root " << dir << "/www; }\n"
        << "  server { listen unix:" << dir << "/status.sock; location / { stub_status; } }\n"
        << "}\n";
    spawn_request request;
    request.path = "/usr/sbin/nginx";
    request.args = {"nginx", "-p", dir + "/", "-c", dir + "/nginx.conf", "-e", dir + "/error.log"};
    request.env = {"NGINX=3;"};  // nginx's own way to take over listening sockets
    request.inherit_fds = {member.get()};
    process = spawn_child(request);
  }
  ~generation() {
    if (is_alive(process.ref())) process.kill_group();
  }
  std::optional<connection_counts> connections() const {
    return read_stub_status(dir, "status.sock");
  }
  bool ready() const { return connections().has_value(); }
};

/// Which generation answers each of `count` new connections.
std::map<std::string, int> new_connections(int port, int count) {
  std::map<std::string, int> bodies;
  for (int i = 0; i < count; ++i) ++bodies[http_get("127.0.0.1", port, "/").body];
  return bodies;
}

/// The old generation, once no client is left on it (or after `limit`), quits.
void retire(generation& old, std::chrono::milliseconds limit) {
  eventually(
      [&] {
        const auto counts = old.connections();
        return counts && counts->reading + counts->writing + counts->waiting == 0;
      },
      limit);
  old.process.signal(SIGQUIT);
  BOOST_TEST(old.process.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(10))
                 .has_value());
  old.member.reset();
}

/// A new generation answering `body` joins the group, and once ready every
/// new connection goes to it while the older ones still serve their own.
std::unique_ptr<generation> start_next(int steering, const std::string& root, int port,
                                       const std::string& body, kept_alive_load& load) {
  auto next = std::make_unique<generation>(root, body, port, body);
  BOOST_REQUIRE(eventually([&] { return next->ready(); }));
  steer_listen_group(steering, next->member.get());
  BOOST_TEST((new_connections(port, 20) == std::map<std::string, int>{{body, 20}}));
  BOOST_TEST(eventually([&] { return load.bodies()[body] > 100; }));
  return next;
}

/// A recycle from `old` to a new generation answering `body`; then `old`
/// drains and quits.
std::unique_ptr<generation> swap_to(std::unique_ptr<generation> old, int steering,
                                    const std::string& root, int port, const std::string& body,
                                    kept_alive_load& load) {
  auto next = start_next(steering, root, port, body, load);
  retire(*old, std::chrono::seconds(5));
  return next;
}

/// Generation "A" on a fresh port, steered to, under kept-alive load.
struct first_generation_under_load {
  temp_dir root;
  int port = free_port();
  std::unique_ptr<generation> first;
  unique_fd steering;
  std::unique_ptr<kept_alive_load> load;

  first_generation_under_load() {
    fs::permissions(root.path(),
                    fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    first = std::make_unique<generation>(root.path(), "a", port, "A");
    BOOST_REQUIRE(eventually([&] { return first->ready(); }));
    steering = attach_listen_steering(first->member.get());
    load = std::make_unique<kept_alive_load>(port, "/", 4);
    BOOST_REQUIRE(eventually([&] { return load->served() > 100; }));
  }
};

bool can_run_nginx() {
  if (::geteuid() == 0 && fs::exists("/usr/sbin/nginx")) return true;
  BOOST_TEST_MESSAGE("needs root and nginx");
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_AUTO_TEST_SUITE(listen_group_generations)

BOOST_AUTO_TEST_CASE(generations_swap_under_kept_alive_load_without_a_failed_request) {
  if (!can_run_nginx()) return;
  first_generation_under_load site;
  auto& load = *site.load;
  const int port = site.port;

  // A recycle: the new generation joins, is ready, and takes every new connection.
  auto b = swap_to(std::move(site.first), site.steering.get(), site.root.path(), port, "B", load);
  const int before_c = load.bodies()["B"];
  auto c = swap_to(std::move(b), site.steering.get(), site.root.path(), port, "C", load);
  const auto served_by_c = load.bodies()["C"];
  BOOST_TEST(eventually([&] { return load.bodies()["C"] > served_by_c + 100; }));
  load.stop();

  BOOST_TEST(load.failed() == 0, "failed: " << load.failed() << ", last: " << load.last_failure());
  BOOST_TEST(before_c > 100);
  // Nothing is left on the retired generations' address: only c answers.
  const auto response = http_get("127.0.0.1", port, "/");
  BOOST_TEST(response.body == "C");
}

BOOST_AUTO_TEST_CASE(generations_drain_side_by_side_without_a_failed_request) {
  if (!can_run_nginx()) return;
  first_generation_under_load site;
  auto& load = *site.load;
  const int port = site.port;
  auto& a = site.first;

  // Two recycles in a row: a and b still run (and hold their members) when c takes over.
  auto b = start_next(site.steering.get(), site.root.path(), port, "B", load);
  auto c = start_next(site.steering.get(), site.root.path(), port, "C", load);
  const auto served_by_c = load.bodies()["C"];
  BOOST_TEST(eventually([&] { return load.bodies()["C"] > served_by_c + 100; }));
  retire(*b, std::chrono::seconds(5));  // the middle one first: the pick does not move
  BOOST_TEST((new_connections(port, 20) == std::map<std::string, int>{{"C", 20}}));
  retire(*a, std::chrono::seconds(5));
  BOOST_TEST((new_connections(port, 20) == std::map<std::string, int>{{"C", 20}}));
  load.stop();
  BOOST_TEST(load.failed() == 0, "failed: " << load.failed() << ", last: " << load.last_failure());
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
