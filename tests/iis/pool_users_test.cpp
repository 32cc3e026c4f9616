// Finding 7: every ApplicationPoolIdentity pool ran as www-data, so one
// task's app could write another task's site. Now each such pool has a Unix
// user of its own (made when the site starts, removed when it is destroyed),
// checked here with real processes of those users; handles of earlier
// releases keep running as www-data.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "actors/driver_state.hpp"
#include "iis/state_codec.hpp"
#include "iis/unix_users.hpp"
#include "site_fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

/// A site whose default pool's worker runs from the start.
void start_static_site(site_fixture& site) {
  site.config.applications.push_back(make_app("local/site"));
  site.config.application_pools.push_back(running_pool("default"));
  site.start();
}

unix_account pool_account(const site_fixture& site) {
  auto account = find_account(pool_user_name(site.task.alloc_id, site.task.task_name, "default"));
  BOOST_REQUIRE_MESSAGE(account.has_value(), "the pool's user does not exist");
  return *account;
}

/// The uid of the pool's first worker, once it runs.
/// The uid of the pool's first worker once it dropped root: a worker is
/// known from its fork, a moment before nginx switches it to its user.
int worker_uid(site_fixture& site) {
  BOOST_REQUIRE(eventually([&] { return !site.web->snapshot().pools[0].workers.empty(); }));
  eventually([&] { return uid_of(site.web->snapshot().pools[0].workers[0].pid) != 0; },
             std::chrono::seconds(2));
  return uid_of(site.web->snapshot().pools[0].workers[0].pid);
}

/// 0 when `account` can create (and write) `path`, else errno.
int try_create(const unix_account& account, const std::string& path) {
  return run_as(account, [&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return errno;
    const bool ok = ::write(fd, "x", 1) == 1;
    ::close(fd);
    return ok ? 0 : 99;
  });
}

/// 0 when `account` can open the existing `path` for writing, else errno.
int try_write(const unix_account& account, const std::string& path) {
  return run_as(account, [&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
  });
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_sites)
BOOST_AUTO_TEST_SUITE(pool_users)

BOOST_AUTO_TEST_CASE(each_task_gets_users_of_its_own_that_cannot_touch_the_other) {
  if (::geteuid() != 0) return;  // without root every worker is the plugin's user
  site_fixture a;
  site_fixture b;
  b.alloc.write("local/site/file.txt", "b's content");
  start_static_site(a);
  start_static_site(b);
  const auto user_a = pool_account(a);
  const auto user_b = pool_account(b);
  BOOST_TEST(user_a.uid != user_b.uid);
  BOOST_TEST(user_a.uid != 33u);  // not www-data
  BOOST_TEST(worker_uid(a) == static_cast<int>(user_a.uid));
  BOOST_TEST(worker_uid(b) == static_cast<int>(user_b.uid));
  BOOST_TEST(a.get("/file.txt").body == "static file content");
  BOOST_TEST(b.get("/file.txt").body == "b's content");

  // Each pool's user writes its own local/ (the site too) and tmp/ ...
  const std::string a_dir = a.alloc.task_dir(), b_dir = b.alloc.task_dir();
  BOOST_TEST(try_create(user_a, a_dir + "/local/new.txt") == 0);
  BOOST_TEST(try_create(user_a, a_dir + "/local/site/new.txt") == 0);
  BOOST_TEST(try_create(user_a, a_dir + "/tmp/new.txt") == 0);
  BOOST_TEST(try_write(user_a, a_dir + "/local/site/file.txt") == 0);
  BOOST_TEST(try_create(user_b, b_dir + "/tmp/new.txt") == 0);
  // ... and nothing of the other task's.
  BOOST_TEST(try_write(user_a, b_dir + "/local/site/file.txt") == EACCES);
  BOOST_TEST(try_write(user_a, b_dir + "/local/site/index.html") == EACCES);
  BOOST_TEST(try_create(user_a, b_dir + "/local/site/evil.txt") == EACCES);
  BOOST_TEST(try_create(user_a, b_dir + "/tmp/evil.txt") == EACCES);
  BOOST_TEST(try_write(user_b, a_dir + "/local/site/file.txt") == EACCES);
  BOOST_TEST(try_create(user_b, a_dir + "/local/site/evil.txt") == EACCES);
  BOOST_TEST(b.get("/file.txt").body == "b's content");
  BOOST_TEST(b.get("/evil.txt").status == 404);

  // The user goes with its task, once its processes are gone.
  const auto pids = all_pids(b.web->snapshot());
  BOOST_TEST(!run([&](completion done) { b.web->destroy(done); }));
  b.web.reset();
  for (int pid : pids) BOOST_TEST(!pid_alive(pid));
  BOOST_TEST(!find_account(user_b.name).has_value());
  BOOST_TEST(find_account(user_a.name).has_value());
  BOOST_TEST(a.get("/file.txt").status == 200);
}

BOOST_AUTO_TEST_CASE(a_site_that_fails_to_start_leaves_no_user) {
  if (::geteuid() != 0) return;
  site_fixture site;
  site.config.applications.push_back(make_app("local/site"));
  site.config.application_pools.push_back(running_pool("default"));
  const int busy = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(site.port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(busy, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::listen(busy, 1);
  site.create();
  BOOST_TEST(run([&](completion done) { site.web->start(done); }).has_value());
  ::close(busy);
  BOOST_TEST(!find_account(pool_user_name(site.task.alloc_id, site.task.task_name, "default"))
                  .has_value());
}

BOOST_AUTO_TEST_CASE(handles_of_earlier_releases_keep_www_data) {
  if (::geteuid() != 0) return;
  site_fixture site;
  site.config.applications.push_back(make_app("local/site"));
  site.config.application_pools.push_back(running_pool("default"));
  // The site as an earlier release planned and started it: www-data.
  site.plan = plan_site(site.config, site.task, site.driver);
  site.plan.pools[0].run_as_user = "www-data";
  site.plan.pools[0].managed_user_comment.clear();
  site.web = site.engine->create_site(site.plan, site.observer);
  BOOST_REQUIRE(!run([&](completion done) { site.web->start(done); }));
  site.remember();
  const auto snapshot = site.web->snapshot();
  BOOST_REQUIRE(snapshot.pools[0].supervisor.pid > 0);

  // Its driver_state, as that release wrote it (golden bytes, paths and PIDs filled in).
  std::string text = read_text(std::string(IIS_TEST_DATA_DIR) + "/driver_state_www_data.json");
  replace_all(text, "@DATA_DIR@", site.plan.data_dir);
  replace_all(text, "@ALLOC_DIR@", site.alloc.alloc_dir);
  replace_all(text, "@SITE_NAME@", site.plan.site_name);
  replace_all(text, "@PORT@", std::to_string(site.port));
  replace_all(text, "@FRONT_PID@", std::to_string(snapshot.front.pid));
  replace_all(text, "@FRONT_START@", std::to_string(snapshot.front.start_ticks));
  replace_all(text, "@MASTER_PID@", std::to_string(snapshot.pools[0].supervisor.pid));
  replace_all(text, "@MASTER_START@", std::to_string(snapshot.pools[0].supervisor.start_ticks));
  rapidjson::Document handle;
  handle.Parse(text.c_str());
  BOOST_REQUIRE(!handle.HasParseError() && handle.HasMember("site"));
  const std::string saved = handle["site"].GetString();
  BOOST_TEST(saved.find("\"run_as_user\":\"www-data\"") != std::string::npos);

  site.restart_plugin(text);  // the whole handle, as Nomad hands it back
  BOOST_TEST(site.get("/file.txt").body == "static file content");
  BOOST_TEST(worker_uid(site) == 33);
  // A replaced worker and a recycled pool run as www-data too.
  const auto old_worker = site.web->snapshot().pools[0].workers[0].pid;
  ::kill(old_worker, SIGKILL);
  BOOST_TEST(eventually([&] {
    const auto workers = site.web->snapshot().pools[0].workers;
    return !workers.empty() && workers[0].pid != old_worker;
  }));
  BOOST_TEST(worker_uid(site) == 33);
  BOOST_TEST(!run([&](completion done) { site.web->recycle_pools({"default"}, done); }));
  site.remember();
  BOOST_TEST(worker_uid(site) == 33);
  BOOST_TEST(site.web->save_state().find("managed_user_comment") == std::string::npos);
  // Its front keeps the connections that release gave it.
  const auto resaved = decode_driver_state(site.web->save_state());
  BOOST_TEST(decode_state(resaved.site).plan.front_worker_connections == 4096);
  BOOST_TEST(!run([&](completion done) { site.web->destroy(done); }));
  site.web.reset();
  BOOST_TEST(find_account("www-data").has_value());  // never ours to remove
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
