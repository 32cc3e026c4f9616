#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "iis/activation_socket.hpp"
#include "iis/front_probe.hpp"
#include "iis/front_status.hpp"
#include "test_support.hpp"

using namespace nomad_iis::iis;
using nomad_iis::unique_fd;

namespace {

/// A client connection to the unix socket at `path`.
unique_fd connect_to(const std::string& path) {
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return unique_fd();
  return fd;
}

void append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

/// What nginx 1.22's stub_status answers.
constexpr const char* stub_page =
    "Active connections: 4 \nserver accepts handled requests\n 10 10 31 \n"
    "Reading: 1 Writing: 2 Waiting: 1 \n";

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(front_status)

BOOST_AUTO_TEST_CASE(stub_status_counts_leave_out_the_asking_connection) {
  const auto counts = parse_stub_status(stub_page);
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->reading == 1u);
  BOOST_TEST(counts->writing == 1u);
  BOOST_TEST(counts->waiting == 1u);
  BOOST_TEST(counts->active == 3u);  // one accepted, not yet reading
  BOOST_TEST(!parse_stub_status("<html>502 Bad Gateway</html>"));
  BOOST_TEST(!parse_stub_status("Active connections: 1 \nReading: x Writing: 1 Waiting: 0 \n"));
  BOOST_TEST(!parse_stub_status(""));
}

BOOST_AUTO_TEST_CASE(starts_open_requests_and_ends_close_them) {
  open_requests state;
  const std::string text =
      "s 100 7 1 1733516000.250 10.0.0.9 GET /a/b?token=secret 2\n"
      "s 100 8 1 1733516001.000 ::1 POST /up 0\n"
      "e 100 7 1\n"
      "s 100 7 2 1733516002.500 10.0.0.9 GET /c 2\n"
      "s 101 7 2 1733516003.000 10.0.0.9 GET /other-worker 1\n"
      "e 100 7 2\n"
      "s 100 9 1 1733516004.000 10.0.0.9 GET";
  const auto used = track_requests(text, state);
  BOOST_TEST(used == text.rfind('\n') + 1);  // the partial start waits
  BOOST_REQUIRE(state.open.size() == 2u);
  const auto& up = state.open.at({100, 8, 1});
  BOOST_TEST(up.method == "POST");
  BOOST_TEST(up.path == "/up");
  BOOST_TEST(up.client == "::1");
  BOOST_TEST(up.started == 1733516001.0);
  BOOST_TEST(up.pool == 0u);
  BOOST_TEST(state.open.at({101, 7, 2}).pool == 1u);
  open_requests query;
  track_requests("s 100 7 1 1733516000.250 10.0.0.9 GET /a/b?token=secret 2\n", query);
  BOOST_TEST(query.open.at({100, 7, 1}).path == "/a/b");  // the query string is never kept
  BOOST_TEST(query.open.at({100, 7, 1}).started == 1733516000.25);
}

BOOST_AUTO_TEST_CASE(malformed_lines_open_nothing) {
  open_requests state;
  track_requests(
      "s 100 7 1 1733516000.250 10.0.0.9 GET /a\n"     // a field short
      "s x 7 1 1733516000.250 10.0.0.9 GET /a 0\n"     // not a pid
      "s 100 7 1 17335 10.0.0.9 GET /a 0\n"            // no milliseconds
      "s 100 7 1 1733516000.250 10.0.0.9 GET /a -1\n"  // not a pool
      "x 100 7 1\n\n",
      state);
  BOOST_TEST(state.open.empty());
}

BOOST_AUTO_TEST_CASE(waiting_requests_count_unaccepted_and_unread_connections_of_that_file_only) {
  test::temp_dir root;
  std::filesystem::create_directories(root.path() + "/a/run");
  std::filesystem::create_directories(root.path() + "/b/run");
  // Both bound under the same relative name, as every site's pool sockets are.
  auto a = listen_unix(root.path() + "/a", "run/p.bind", "run/p.sock", 10);
  auto b = listen_unix(root.path() + "/b", "run/p.bind", "run/p.sock", 10);
  BOOST_TEST(waiting_requests(root.path() + "/a/run/p.sock") == 0u);
  auto c1 = connect_to(root.path() + "/a/run/p.sock");
  auto c2 = connect_to(root.path() + "/a/run/p.sock");
  auto c3 = connect_to(root.path() + "/b/run/p.bind");
  BOOST_REQUIRE(c1);
  BOOST_REQUIRE(c2);
  BOOST_REQUIRE(c3);
  BOOST_TEST(waiting_requests(root.path() + "/a/run/p.sock") == 2u);
  BOOST_TEST(waiting_requests(root.path() + "/a/run/p.bind") == 2u);  // the same socket
  BOOST_TEST(waiting_requests(root.path() + "/b/run/p.sock") == 1u);
  unique_fd accepted(::accept(a.get(), nullptr, nullptr));
  BOOST_TEST(waiting_requests(root.path() + "/a/run/p.sock") == 1u);
  // An accepted connection holding a request nobody read waits too; once read it does not.
  BOOST_REQUIRE(::write(c1.get(), "GET / HTTP/1.1\r\n\r\n", 18) == 18);
  BOOST_TEST(waiting_requests(root.path() + "/a/run/p.sock") == 2u);
  char request[18];
  BOOST_REQUIRE(::read(accepted.get(), request, sizeof request) == 18);
  BOOST_TEST(waiting_requests(root.path() + "/a/run/p.sock") == 1u);
  BOOST_TEST(waiting_requests(root.path() + "/missing.sock") == 0u);
}

BOOST_AUTO_TEST_CASE(open_requests_log_is_read_on_freed_and_pruned_by_worker) {
  test::temp_dir root;
  const std::string log = root.path() + "/open.log";
  const std::int32_t self = ::getpid();
  const process_ref parent{static_cast<std::int32_t>(::getppid()), 0};
  const auto start = [](std::int32_t worker, int connection, const char* path) {
    return "s " + std::to_string(worker) + " " + std::to_string(connection) +
           " 1 1733516000.000 127.0.0.1 GET " + path + " 0\n";
  };
  open_requests state;
  read_open_requests(log, {parent}, state);  // no log yet
  BOOST_TEST(state.open.empty());
  // A dead worker's request goes (pid 1 is nobody's child of ours).
  append(log, start(self, 1, "/one") + start(self, 2, "/two") + start(1, 3, "/init"));
  read_open_requests(log, {parent}, state);
  BOOST_TEST(state.open.size() == 2u);
  const std::string filler(8192, '#');  // a skipped line fills two pages
  append(log, filler + "\ne " + std::to_string(self) + " 1 1\n");
  read_open_requests(log, {parent}, state);
  BOOST_REQUIRE(state.open.size() == 1u);
  BOOST_TEST(state.open.begin()->second.path == "/two");
  struct stat st {};
  BOOST_REQUIRE(::stat(log.c_str(), &st) == 0);
  BOOST_TEST(st.st_blocks * 512 < st.st_size);  // what was read takes no disk space
  // Read afresh (a plugin restart): the holes are skipped, the rest read again.
  open_requests again;
  append(log, start(self, 4, "/four"));
  read_open_requests(log, {parent}, again);
  BOOST_TEST(again.open.size() == 1u);  // "/two" started before what was kept
  BOOST_TEST(again.open.begin()->second.path == "/four");
  // A new log (shorter than what was read) starts over.
  std::ofstream(log, std::ios::trunc) << start(self, 5, "/five");
  read_open_requests(log, {parent}, state);
  BOOST_REQUIRE(state.open.size() == 1u);
  BOOST_TEST(state.open.begin()->second.path == "/five");
  // A worker of a retired generation's master still counts while it serves.
  const process_ref current{1, 0};
  read_open_requests(log, {current, parent}, state);
  BOOST_TEST(state.open.size() == 1u);
  read_open_requests(log, {current}, state);
  BOOST_TEST(state.open.empty());
}

BOOST_AUTO_TEST_CASE(stub_status_is_read_from_a_real_nginx_in_a_long_folder) {
  test::temp_dir root;
  // Longer than sun_path (108): nginx binds by a name relative to its
  // working directory, the plugin connects through the folder.
  const std::string dir = root.path() + "/" + std::string(60, 'd') + "/" + std::string(60, 'e');
  std::filesystem::create_directories(dir + "/tmp");
  std::filesystem::create_directories(dir + "/logs");
  BOOST_REQUIRE(dir.size() + std::string("/logs/status.sock").size() > 108u);
  const std::string socket = "logs/status.sock";
  BOOST_TEST(status_socket_name(dir, 0) == socket);
  BOOST_TEST(status_socket_name(dir, 3) == "logs/status-3.sock");
  std::ofstream(dir + "/nginx.conf")
      << "worker_processes 1;\npid " << dir << "/nginx.pid;\nerror_log " << dir
      << "/error.log;\nevents { worker_connections 64; }\nhttp {\n  client_body_temp_path " << dir
      << "/tmp;\n  proxy_temp_path " << dir << "/tmp;\n  fastcgi_temp_path " << dir
      << "/tmp;\n  uwsgi_temp_path " << dir << "/tmp;\n  scgi_temp_path " << dir
      << "/tmp;\n  access_log off;\n  server {\n    listen unix:" << socket
      << ";\n    location / { stub_status; }\n  }\n}\n";
  const std::string start = "cd " + dir + " && /usr/sbin/nginx -p " + dir + "/ -c " + dir +
                            "/nginx.conf -e " + dir + "/error.log";
  BOOST_REQUIRE(std::system(start.c_str()) == 0);
  struct stopper {
    std::string pid_file;
    ~stopper() {
      std::ifstream in(pid_file);
      pid_t pid = 0;
      if (in >> pid && pid > 0) ::kill(pid, SIGQUIT);
    }
  } stop{dir + "/nginx.pid"};
  const unique_fd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  BOOST_REQUIRE(test::eventually([&] { return read_stub_status(dir, socket).has_value(); }));
  // A connection that sent nothing waits; one with half a request head is reading.
  const std::string short_path = "/proc/self/fd/" + std::to_string(dir_fd.get()) + "/" + socket;
  auto idle = connect_to(short_path);
  auto partial = connect_to(short_path);
  BOOST_REQUIRE(idle);
  BOOST_REQUIRE(partial);
  const std::string head = "GET / HTTP/1.1\r\n";
  BOOST_REQUIRE(::write(partial.get(), head.data(), head.size()) ==
                static_cast<ssize_t>(head.size()));
  std::optional<connection_counts> counts;
  BOOST_TEST(test::eventually([&] {
    counts = read_stub_status(dir, socket);
    return counts && counts->waiting == 1u && counts->reading == 1u;
  }));
  if (counts) BOOST_TEST(counts->writing == 0u);  // the asking connection is left out
  BOOST_TEST(!read_stub_status(dir, "missing.sock"));
  BOOST_TEST(!read_stub_status(dir + "/missing-dir", socket));
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
