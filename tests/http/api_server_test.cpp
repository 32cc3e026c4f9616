// The Management API's server and request actors in one process with the
// real driver actors (the fake launcher behind them: no process runs), real
// HTTP over loopback and real files in a task directory: slow requests hold
// no threads, a client that goes leaves nothing behind, and an upload, a
// delete and a StopTask on one task happen in one order.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <sys/socket.h>

#include <unistd.h>
#include <optional>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/supervisor.hpp"
#include "adapters/http/api.hpp"
#include "adapters/http/api_context.hpp"
#include "adapters/http/server.hpp"
#include "adapters/http/ui.hpp"
#include "common/logging.hpp"
#include "messages/type_ids.hpp"
#include "tests/actors/fake_backend.hpp"
#include "tests/actors/task_configs.hpp"
#include "tests/grpc/held_backend.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

struct quiet_logs {
  quiet_logs() { logging::init("error"); }
};
BOOST_TEST_GLOBAL_FIXTURE(quiet_logs);

/// A number from /proc/self/status ("Threads").
long self_status(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

long open_fds() {
  long n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Waits up to `limit` for `done()`.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// Staging folders left anywhere below `dir` (-1 while they are being
/// removed under the walk).
int staging_left(const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(".nomad-iis-staging-", 0) == 0) ++n;
  return ec ? -1 : n;
}

/// A blocking HTTP client connection for the test's own thread.
class client {
 public:
  explicit client(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  /// Sends a request and reads its answer.
  bhttp::response<bhttp::string_body> call(const std::string& method, const std::string& target,
                                           const std::string& body = {},
                                           const std::string& type = "text/plain") {
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
    req.set(bhttp::field::host, "x");
    if (!body.empty() || method == "PUT" || method == "PATCH") {
      req.set(bhttp::field::content_type, type);
      req.body() = body;
      req.prepare_payload();
    }
    bhttp::write(socket_, req);
    return read();
  }

  /// Sends a request built by the caller and reads its answer.
  bhttp::response<bhttp::string_body> send(bhttp::request<bhttp::string_body>& req) {
    bhttp::write(socket_, req);
    return read();
  }

  /// An answer that does not come within 30 s fails the test instead of hanging it.
  bhttp::response<bhttp::string_body> read() {
    bhttp::response<bhttp::string_body> res;
    std::optional<boost::system::error_code> result;
    bhttp::async_read(socket_, buffer_, res,
                      [&](boost::system::error_code ec, std::size_t) { result = ec; });
    io_.restart();
    io_.run_for(30s);
    if (!result) {
      boost::system::error_code ignored;
      socket_.cancel(ignored);
      io_.restart();
      io_.run();
      throw std::runtime_error("no answer within 30 s");
    }
    if (*result) throw boost::system::system_error(*result);
    return res;
  }

  void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  /// Reads whatever arrives first (at most `n` bytes).
  std::size_t read_some(std::size_t n) {
    std::vector<char> buf(n);
    return socket_.read_some(asio::buffer(buf));
  }

  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

struct api_fixture {
  std::shared_ptr<test::held_starts> starts = std::make_shared<test::held_starts>();
  std::shared_ptr<test::held_launcher> launcher = std::make_shared<test::held_launcher>(starts);
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  driver_actors actors;
  std::shared_ptr<http::api_context> ctx;
  std::unique_ptr<http::http_server> server;
  fs::path alloc_dir;
  std::string task_id = "alloc1/web/1000";
  std::string api;  ///< "/api/v1/allocs/alloc1/web"
  bool started = false;

  api_fixture() {
    configure_actor_system(cfg);
    cfg.set("logger.verbosity", caf::atom("quiet"));
    cfg.set("logger.console", caf::atom("none"));
    cfg.set("scheduler.max-threads", std::size_t{2});
    sys = std::make_unique<caf::actor_system>(cfg);
    actors = spawn_driver(*sys, std::make_shared<test::fake_backend>(launcher, false));
    alloc_dir = fs::temp_directory_path() / ("nomad_iis_api_test_" + std::to_string(::getpid()));
    fs::create_directories(alloc_dir / "web" / "local");
    config::driver_config driver;
    driver.data_dir = (alloc_dir / "data").string();
    driver.placeholder_app_path.clear();
    driver.directory_security = false;
    driver.allowed_apppool_identities = {"ApplicationPoolIdentity", "NetworkService"};
    // Every spawn of a front waits for the test's release: the pool's stops
    // and starts here are its own nginx's, not new generations of the front.
    driver.single_hop_static = false;
    caf::anon_send(actors.supervisor, msg::set_driver_config{driver, true});
    ctx = http::make_api_context(*sys, actors.supervisor, actors.statuses,
                                 http::authenticator("", ""));
    http::server_options opts;
    opts.bind = "127.0.0.1";
    server = std::make_unique<http::http_server>(opts, http::make_request_sink(ctx));
    server->start();
    api = "/api/v1/allocs/alloc1/web";
  }

  ~api_fixture() {
    server->stop();
    if (started) {
      caf::scoped_actor self{*sys};
      self->request(actors.supervisor, 60s, msg::destroy_task{task_id, true})
          .receive([] {}, [](caf::error&) {});
    }
    for (const auto& a : actors.all()) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    ctx.reset();
    sys.reset();
    fs::remove_all(alloc_dir);
  }

  fs::path task_dir() const { return alloc_dir / "web"; }

  /// Starts the task (its pool's shutdown_time_limit as given) and waits.
  void start_task(const std::string& shutdown_limit = "2s") {
    iis::task_context task;
    task.task_id = task_id;
    task.alloc_id = "alloc1";
    task.task_name = "web";
    task.job_name = "static-sample-app";
    task.group_name = "app";
    task.namespace_name = "default";
    task.alloc_dir = alloc_dir.string();
    task.stdout_path = "/dev/null";
    task.stderr_path = "/dev/null";
    task.ports.push_back({"httplabel", 23456, 0, "127.0.0.1"});
    auto config = test::sample_config(
        {{"start_mode", "AlwaysRunning"}, {"shutdown_time_limit", shutdown_limit}});
    caf::scoped_actor self{*sys};
    auto front = std::async(std::launch::async, [&] { starts->next()(std::nullopt); });
    bool ok = false;
    std::string why;
    self->request(actors.supervisor, 30s, msg::start_task{task, config})
        .receive([&](msg::started_task&) { ok = true; },
                 [&](caf::error& e) { why = to_string(e); });
    BOOST_REQUIRE_MESSAGE(ok, why);
    front.get();
    started = true;
  }

  void stop_task() {
    caf::scoped_actor self{*sys};
    self->request(actors.supervisor, 60s, msg::stop_task{task_id, 1s, ""})
        .receive([] {}, [](caf::error&) {});
  }

  client connect() { return client(server->port()); }
};

/// The head of a PATCH/PUT whose body follows separately.
std::string upload_head(const std::string& method, const std::string& target, std::size_t length) {
  return method + " " + target +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
         "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(api_server, api_fixture)

BOOST_AUTO_TEST_CASE(five_hundred_slow_requests_hold_no_threads) {
  start_task("4s");
  launcher->hold_graceful(true);  // a pool stop drains until its time limit
  // The server's and the actors' threads exist; count from here.
  {
    auto c = connect();
    BOOST_REQUIRE_EQUAL(c.call("GET", api + "/status").result_int(), 200);
  }
  const long before = self_status("Threads");

  std::vector<std::unique_ptr<client>> open;
  // 200 uploads that send 100 bytes of their megabyte, then nothing.
  for (int i = 0; i < 200; ++i) {
    open.push_back(std::make_unique<client>(server->port()));
    open.back()->send_raw(
        upload_head("PATCH", api + "/fs/local/slow" + std::to_string(i) + ".bin", 1 << 20) +
        std::string(100, 'x'));
  }
  // 200 clients that send half a header block.
  for (int i = 0; i < 200; ++i) {
    open.push_back(std::make_unique<client>(server->port()));
    open.back()->send_raw("GET " + api + "/status HTTP/1.1\r\nHost: x\r\n");
  }
  // 100 pool stops: the first drains for 4 s, the rest wait behind it.
  std::vector<std::unique_ptr<client>> stops;
  for (int i = 0; i < 100; ++i) {
    stops.push_back(std::make_unique<client>(server->port()));
    stops.back()->send_raw("PUT " + api + "/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  }
  std::this_thread::sleep_for(1500ms);
  const long during = self_status("Threads");
  BOOST_TEST_MESSAGE("threads " << before << " -> " << during << " with 500 slow requests");
  BOOST_TEST(during - before <= 4);

  for (auto& c : stops) {
    auto res = c->read();
    BOOST_TEST(res.result_int() == 200, res.body());
    BOOST_TEST(res.body().find("\"Stopped\"") != std::string::npos);
  }
  for (auto& c : open) c->close();
  BOOST_TEST(eventually([&] { return staging_left(task_dir()) == 0; }));
}

BOOST_AUTO_TEST_CASE(a_client_that_goes_mid_upload_or_download_leaves_nothing) {
  start_task();
  {
    std::ofstream big(task_dir() / "local" / "big.bin", std::ios::binary);
    std::string block(1 << 20, 'b');
    for (int i = 0; i < 32; ++i) big << block;
  }
  {
    auto warm = connect();
    BOOST_REQUIRE_EQUAL(warm.call("GET", api + "/status").result_int(), 200);
  }
  const long threads = self_status("Threads");
  const long fds = open_fds();

  {
    auto c = connect();
    c.send_raw(upload_head("PUT", api + "/fs/local/gone.bin", 4 << 20) + std::string(1 << 20, 'u'));
    std::this_thread::sleep_for(200ms);
    c.close();
  }
  {
    auto c = connect();
    c.send_raw("GET " + api + "/fs/local/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(c.read_some(64 << 10) > 0);
    c.close();
  }
  BOOST_TEST(eventually([&] { return staging_left(task_dir()) == 0; }));
  BOOST_TEST(!fs::exists(task_dir() / "local" / "gone.bin"));
  BOOST_TEST(eventually([&] { return open_fds() <= fds; }),
             "descriptors " << open_fds() << " > " << fds);
  BOOST_TEST(eventually([&] { return self_status("Threads") <= threads; }));
  // No lease is left: a change on the same task goes through at once.
  auto c = connect();
  auto del = c.call("DELETE", api + "/fs/local/big.bin");
  BOOST_TEST(del.result_int() == 200);
  BOOST_TEST(!fs::exists(task_dir() / "local" / "big.bin"));
}

BOOST_AUTO_TEST_CASE(an_upload_a_delete_and_a_stop_task_happen_in_one_order) {
  start_task("3s");
  const auto file = task_dir() / "local" / "x.txt";
  { std::ofstream(file) << "old"; }

  // An upload whose body is still arriving holds nothing: a DELETE of its
  // target goes first, and the upload, complete later, puts the new file.
  auto up = connect();
  const std::string body(200000, 'n');
  up.send_raw(upload_head("PATCH", api + "/fs/local/x.txt", body.size()) + body.substr(0, 1000));
  std::this_thread::sleep_for(200ms);
  auto other = connect();
  BOOST_TEST(other.call("DELETE", api + "/fs/local/x.txt").result_int() == 200);
  BOOST_TEST(!fs::exists(file));
  up.send_raw(body.substr(1000));
  auto done = up.read();
  BOOST_TEST(done.result_int() == 200, done.body());
  BOOST_TEST(fs::file_size(file) == body.size());

  // A PUT holds the task while its pools drain (3 s); a DELETE sent then
  // waits for it and applies after it: the file is gone, not half-written.
  launcher->hold_graceful(true);
  auto put = connect();
  auto del = connect();
  auto put_answer = std::async(std::launch::async,
                               [&] { return put.call("PUT", api + "/fs/local/x.txt", "put"); });
  std::this_thread::sleep_for(500ms);
  const auto del_sent = std::chrono::steady_clock::now();
  auto del_answer = del.call("DELETE", api + "/fs/local/x.txt");
  auto put_result = put_answer.get();
  BOOST_TEST(put_result.result_int() == 200, put_result.body());
  BOOST_TEST(del_answer.result_int() == 200, del_answer.body());
  BOOST_TEST((std::chrono::steady_clock::now() - del_sent > 1s));  // it waited for the PUT
  BOOST_TEST(!fs::exists(file));
  launcher->hold_graceful(false);

  // A StopTask while an upload's body arrives: the stop goes first (it
  // waits for no body), then the upload applies whole or not at all.
  { std::ofstream(file) << "before"; }
  auto late = connect();
  late.send_raw(upload_head("PATCH", api + "/fs/local/x.txt", body.size()) + body.substr(0, 1000));
  std::this_thread::sleep_for(200ms);
  const auto stop_began = std::chrono::steady_clock::now();
  stop_task();
  BOOST_TEST((std::chrono::steady_clock::now() - stop_began < 5s));
  late.send_raw(body.substr(1000));
  auto after_stop = late.read();
  std::string content;
  std::getline(std::ifstream(file), content);
  if (after_stop.result_int() == 200)
    BOOST_TEST(content == body);
  else
    BOOST_TEST(content == "before", after_stop.result_int() << " " << after_stop.body());
  BOOST_TEST(eventually([&] { return staging_left(task_dir()) == 0; }));
}

BOOST_AUTO_TEST_CASE(status_has_the_documented_application_pool_object) {
  start_task();
  auto c = connect();
  auto status = [&] {
    auto res = c.call("GET", api + "/status");
    BOOST_TEST(res.result_int() == 200, res.body());
    rapidjson::Document doc;
    doc.Parse(res.body().c_str());
    BOOST_REQUIRE(!doc.HasParseError());
    BOOST_REQUIRE(doc.IsObject());
    return doc;
  };
  auto doc = status();
  BOOST_TEST(std::string(doc["allocId"].GetString()) == "alloc1");
  BOOST_TEST(std::string(doc["taskName"].GetString()) == "web");
  // nomad-iis's document:
  // {"allocId","taskName","applicationPool":{"status","isWorkerProcessRunning"}}.
  BOOST_REQUIRE(doc["applicationPool"].IsObject());
  BOOST_TEST(doc["applicationPool"].MemberCount() == 2u);
  BOOST_TEST(std::string(doc["applicationPool"]["status"].GetString()) == "Started");
  BOOST_TEST(doc["applicationPool"]["isWorkerProcessRunning"].GetBool());
  // Beside what the status had before.
  BOOST_REQUIRE(doc["defaultApplicationPool"].IsObject());
  BOOST_TEST(std::string(doc["defaultApplicationPool"]["name"].GetString()) == "default");
  BOOST_REQUIRE(doc["applicationPools"].IsArray());
  BOOST_TEST(doc["applicationPools"].Size() == 1u);

  auto stopped = c.call("PUT", api + "/stop");
  BOOST_TEST(stopped.result_int() / 100 == 2, stopped.body());
  doc = status();
  BOOST_TEST(std::string(doc["applicationPool"]["status"].GetString()) == "Stopped");
  BOOST_TEST(!doc["applicationPool"]["isWorkerProcessRunning"].GetBool());
}

BOOST_AUTO_TEST_CASE(every_connection_is_served_and_sees_the_last_change) {
  start_task();
  auto pool_status = [&](client& c) {
    auto res = c.call("GET", api + "/status");
    BOOST_REQUIRE_MESSAGE(res.result_int() == 200, res.body());
    rapidjson::Document doc;
    doc.Parse(res.body().c_str());
    BOOST_REQUIRE(!doc.HasParseError() && doc.IsObject());
    return std::string(doc["applicationPool"]["status"].GetString());
  };
  // Connections come and go across the server's I/O threads; each is
  // answered, and a change made on one is what the next one reads.
  for (int round = 0; round < 6; ++round) {
    const bool stop = round % 2 == 0;
    {
      auto changer = connect();
      auto res = changer.call("PUT", api + (stop ? "/stop" : "/start"));
      BOOST_REQUIRE_MESSAGE(res.result_int() == 200, res.body());
    }
    for (int i = 0; i < 4; ++i) {
      auto reader = connect();
      BOOST_TEST(pool_status(reader) == (stop ? "Stopped" : "Started"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_zip_sent_as_application_zip_with_a_dash_is_extracted) {
  start_task();
  http::test::temp_dir tmp;
  http::test::make_zip(tmp / "app.zip", "z.writestr('site/index.html', '<h1>zipped</h1>')");
  const std::string zip = http::test::read_file(tmp / "app.zip");
  auto c = connect();
  int n = 0;
  // The spelling of nomad-iis's Management API document, and the usual ones.
  for (const std::string type : {"application-zip", "Application-Zip; x=y", "application/zip",
                                 "application/x-zip-compressed"}) {
    BOOST_TEST_CONTEXT(type) {
      const std::string folder = "local/unzipped" + std::to_string(++n);
      auto res = c.call("PATCH", api + "/fs/" + folder, zip, type);
      BOOST_TEST(res.result_int() == 200, res.body());
      BOOST_TEST(http::test::read_file((task_dir() / folder / "site" / "index.html").string()) ==
                 "<h1>zipped</h1>");
    }
  }
  // Any other type keeps the archive as one file.
  auto raw = c.call("PATCH", api + "/fs/local/kept.zip", zip, "application/octet-stream");
  BOOST_TEST(raw.result_int() == 200, raw.body());
  BOOST_TEST(http::test::read_file((task_dir() / "local" / "kept.zip").string()) == zip);
}

BOOST_AUTO_TEST_CASE(the_dashboard_is_served_with_its_policy_before_credentials) {
  auto c = connect();
  auto page = c.call("GET", "/ui/");
  BOOST_TEST(page.result_int() == 200);
  BOOST_TEST(std::string(page[bhttp::field::content_type]) == "text/html; charset=utf-8");
  BOOST_TEST(std::string(page["Content-Security-Policy"]) ==
             std::string(http::ui_content_security_policy));
  BOOST_TEST(std::string(page["X-Content-Type-Options"]) == "nosniff");
  BOOST_TEST(page.body().find("<script type=\"module\" src=\"/ui/app.js\"></script>") !=
             std::string::npos);
  const std::string etag(page[bhttp::field::etag]);
  BOOST_TEST(!etag.empty());
  bhttp::request<bhttp::string_body> again(bhttp::verb::get, "/ui/", 11);
  again.set(bhttp::field::host, "x");
  again.set(bhttp::field::if_none_match, etag);
  auto cached = c.send(again);
  BOOST_TEST(cached.result_int() == 304);
  BOOST_TEST(cached.body().empty());
  BOOST_TEST(std::string(cached["Content-Security-Policy"]) ==
             std::string(http::ui_content_security_policy));
}

BOOST_AUTO_TEST_CASE(a_folder_is_listed_as_json_with_list_true) {
  start_task();
  http::test::write_file((task_dir() / "local" / "index.html").string(), "hello");
  fs::create_directories(task_dir() / "local" / "css");
  auto c = connect();
  auto res = c.call("GET", api + "/fs/local?list=true");
  BOOST_TEST(res.result_int() == 200, res.body());
  BOOST_TEST(std::string(res[bhttp::field::content_type]).rfind("application/json", 0) == 0u);
  rapidjson::Document doc;
  doc.Parse(res.body().c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_TEST(std::string(doc["path"].GetString()) == "local");
  BOOST_REQUIRE(doc["entries"].Size() == 2u);
  BOOST_TEST(std::string(doc["entries"][0]["name"].GetString()) == "css");
  BOOST_TEST(std::string(doc["entries"][0]["type"].GetString()) == "directory");
  BOOST_TEST(std::string(doc["entries"][1]["name"].GetString()) == "index.html");
  BOOST_TEST(doc["entries"][1]["size"].GetUint64() == 5u);
  // Without it the folder is still a zip; a file cannot be listed.
  auto zip = c.call("GET", api + "/fs/local");
  BOOST_TEST(std::string(zip[bhttp::field::content_type]) == "application/zip");
  auto file = c.call("GET", api + "/fs/local/index.html?list=true");
  BOOST_TEST(file.result_int() == 400);
  BOOST_TEST(file.body().find("not_a_folder") != std::string::npos);
  auto bad = c.call("GET", api + "/fs/local?list=maybe");
  BOOST_TEST(bad.result_int() == 400);
}

BOOST_AUTO_TEST_SUITE_END()
