#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "iis/user_access.hpp"
#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;
using namespace std::chrono_literals;

namespace {

/// Whether the pool's user (www-data: the sample's NetworkService) may list `path`.
bool pool_user_may_list(const std::filesystem::path& path) {
  const auto account = iis::find_account("www-data");
  return account && iis::user_may(path.string(), *account, R_OK | X_OK);
}

/// What a client of the task's file operations saw.
struct upload_record {
  std::optional<std::uint64_t> id;
  std::size_t blocks = 0;
  std::optional<msg::upload_done> done;
  std::optional<caf::error> error;
};

/// A plain-file upload into the task dir, as the Management API's request
/// actor makes one (PUT: the serving pools stop for the swap).
msg::upload_begin upload_of(const std::string& path, std::uint64_t length, bool put) {
  msg::upload_begin m;
  m.target.path = path;
  m.stop_pools = put;
  m.has_length = true;
  m.content_length = length;
  return m;
}

/// Names of the staging folders left in `dir`.
std::vector<std::string> staging_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind(".nomad-iis-staging-", 0) == 0) out.push_back(name);
  }
  return out;
}

std::string content_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The fixture plus clients that hold a transfer open over many messages,
/// as a request actor does: a std::string sent to one is the next body
/// block, the atom "end" ends the body; each waits for the answer to the
/// one before (await), as a request actor reads the next block only then.
struct files_fixture : fixture {
  caf::actor upload_client(const caf::actor& task, msg::upload_begin m,
                           std::shared_ptr<upload_record> rec) {
    auto client = sys.spawn(
        [m, rec](caf::event_based_actor* self, caf::actor task) -> caf::behavior {
          auto failed = [rec](caf::error& e) { rec->error = std::move(e); };
          self->request(task, caf::infinite, m)
              .then([rec](msg::transfer_id& t) { rec->id = t.id; }, failed);
          return {
              [self, task, rec, failed](std::string& bytes) {
                self->request(task, caf::infinite, msg::upload_block{*rec->id, std::move(bytes)})
                    .await([rec] { ++rec->blocks; }, failed);
              },
              [self, task, rec, failed](caf::atom_value) {
                self->request(task, caf::infinite, msg::upload_end{*rec->id})
                    .await([rec](msg::upload_done& d) { rec->done = std::move(d); }, failed);
              },
          };
        },
        task);
    own(client);
    run();
    return client;
  }

  /// Sends `message` to `task`; its answer (or error) appends `name` to `order`.
  template <class Message>
  void ask_in_order(const caf::actor& task, Message message, std::string name,
                    std::shared_ptr<std::vector<std::string>> order) {
    sys.spawn(
        [message, name, order](caf::event_based_actor* self, caf::actor task) {
          self->request(task, caf::infinite, message)
              .then([order, name]() { order->push_back(name); },
                    [order, name](caf::error& e) {
                      order->push_back(name + " failed: " + to_string(e));
                    });
        },
        task);
    run();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(management, fixture)

BOOST_AUTO_TEST_CASE(tasks_are_found_by_alloc_and_name_once_running) {
  auto before = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"});
  BOOST_TEST(before->error.has_value());
  start_running();
  auto found = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"});
  BOOST_REQUIRE(found->value);
  BOOST_TEST(found->value->summary.task_id == "alloc1/web/0000beef");
  BOOST_TEST(found->value->summary.job_name == "static-sample-app");
  BOOST_TEST(found->value->summary.namespace_name == "default");
  auto other = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "api"});
  BOOST_REQUIRE(other->error);
  BOOST_TEST(static_cast<int>(code_of(*other->error)) == static_cast<int>(ec::task_not_found));
  auto list = ask<msg::task_list>(actors.supervisor, msg::list_tasks{});
  BOOST_REQUIRE(list->value);
  BOOST_TEST(list->value->tasks.size() == 1u);
}

BOOST_AUTO_TEST_CASE(site_status_reports_pools_and_workers) {
  start_running();
  const auto workers = procs->current_workers(procs->master("pool-0"));
  BOOST_REQUIRE(workers.size() == 1u);
  auto found = ask<msg::found_task>(actors.supervisor, msg::find_task{"alloc1", "web"});
  BOOST_REQUIRE(found->value);
  auto status = ask<msg::site_status>(found->value->task, msg::get_site_status{});
  BOOST_REQUIRE(status->value);
  BOOST_TEST(status->value->task_dir == (alloc_dir / "web").string());
  BOOST_REQUIRE(status->value->pools.size() == 1u);
  BOOST_TEST(status->value->pools[0].name == "default");
  BOOST_TEST(status->value->pools[0].status == "Started");
  BOOST_TEST(status->value->pools[0].worker_running);
  BOOST_TEST(status->value->pools[0].worker_pids == std::vector<std::int32_t>{workers[0].pid});
}

BOOST_AUTO_TEST_CASE(site_status_by_alloc_and_name_is_answered_by_the_task) {
  auto before = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "web"});
  BOOST_REQUIRE(before->error);
  BOOST_TEST(static_cast<int>(code_of(*before->error)) == static_cast<int>(ec::task_not_found));
  start_running();
  const auto workers = procs->current_workers(procs->master("pool-0"));
  BOOST_REQUIRE(workers.size() == 1u);
  auto status = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "web"});
  BOOST_REQUIRE(status->value);
  BOOST_TEST(status->value->task.task_id == "alloc1/web/0000beef");
  BOOST_TEST(status->value->task.job_name == "static-sample-app");
  BOOST_REQUIRE(status->value->pools.size() == 1u);
  BOOST_TEST(status->value->pools[0].worker_pids == std::vector<std::int32_t>{workers[0].pid});
  auto other = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "api"});
  BOOST_REQUIRE(other->error);
  BOOST_TEST(static_cast<int>(code_of(*other->error)) == static_cast<int>(ec::task_not_found));
}

BOOST_AUTO_TEST_CASE(the_status_board_shows_the_newest_task_as_its_pools_change) {
  BOOST_TEST(!actors.statuses->find("alloc1", "web"));
  start_running();
  auto published = actors.statuses->find("alloc1", "web");
  BOOST_REQUIRE(published);
  BOOST_TEST(published->status().task.task_id == task_id);
  BOOST_REQUIRE(published->status().pools.size() == 1u);
  BOOST_TEST(published->status().pools[0].status == "Started");
  BOOST_TEST(!actors.statuses->find("alloc1", "api"));
  BOOST_TEST(!actors.statuses->find("alloc2", "web"));
  // A pool command is answered after its effect is published.
  auto stopped = ask_void(task_actor(), msg::pool_command{msg::pool_op::stop, {}});
  BOOST_REQUIRE(!stopped->error);
  published = actors.statuses->find("alloc1", "web");
  BOOST_TEST(published->status().pools[0].status == "Stopped");
  BOOST_TEST(published->status().pools[0].worker_pids.empty());
  // A restart of the task under a new id takes over the name; when it goes,
  // the older task answers again, and nothing once both are gone.
  const std::string restarted = "alloc1/web/0000cafe";
  start_running(restarted);
  BOOST_TEST(actors.statuses->find("alloc1", "web")->status().task.task_id == restarted);
  BOOST_REQUIRE(!ask_void(actors.supervisor, msg::destroy_task{restarted, true})->error);
  BOOST_TEST(actors.statuses->find("alloc1", "web")->status().task.task_id == task_id);
  BOOST_REQUIRE(!ask_void(actors.supervisor, msg::destroy_task{task_id, true})->error);
  BOOST_TEST(!actors.statuses->find("alloc1", "web"));
}

BOOST_AUTO_TEST_CASE(a_status_read_publishes_a_fresh_usage_sample) {
  start_running();
  const auto before = actors.statuses->find("alloc1", "web");
  BOOST_REQUIRE(before);
  auto status = ask<msg::site_status>(actors.supervisor, msg::find_site_status{"alloc1", "web"});
  BOOST_REQUIRE(status->value);
  const auto after = actors.statuses->find("alloc1", "web");
  BOOST_REQUIRE(after);
  BOOST_TEST(after != before);
  BOOST_TEST((after->sampled_at() > std::chrono::steady_clock::time_point{}));
  BOOST_TEST(after->status().pools[0].worker_pids == status->value->pools[0].worker_pids);
}

BOOST_AUTO_TEST_CASE(pool_commands_check_pool_names) {
  start_running();
  auto task = task_actor();
  const auto calls = procs->calls.size();
  auto bad = ask_void(task, msg::pool_command{msg::pool_op::stop, {"nope"}});
  BOOST_REQUIRE(bad->error);
  BOOST_TEST(static_cast<int>(code_of(*bad->error)) == static_cast<int>(ec::invalid_argument));
  BOOST_TEST(message_of(*bad->error).find("\"nope\"") != std::string::npos);
  BOOST_TEST(procs->calls.size() == calls);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(file_operations, files_fixture)

BOOST_AUTO_TEST_CASE(a_put_stops_serving_pools_holds_the_task_and_restores_them) {
  const bool root = ::geteuid() == 0;
  auto secured = driver;
  secured.directory_security = true;  // as root: the pool's user gets ACL entries
  configure(secured);
  start_running();
  auto task = task_actor();
  const auto pool = procs->master("pool-0");
  const auto local = alloc_dir / "web" / "local";
  procs->hold_graceful = true;
  auto rec = std::make_shared<upload_record>();
  auto client = upload_client(task, upload_of("local/new.txt", 3, true), rec);
  BOOST_REQUIRE(rec->id);
  caf::anon_send(client, std::string("new"));
  run();
  BOOST_TEST(rec->blocks == 1u);
  BOOST_TEST(!std::filesystem::exists(local / "new.txt"));  // staged only
  caf::anon_send(client, caf::atom("end"));
  run();
  BOOST_TEST(!rec->done);
  BOOST_TEST(procs->calls.back() == signalled(pool, "SIGQUIT"));

  // While the change holds the task, other operations wait.
  const auto held = procs->calls.size();
  auto recycle = ask_void(task, msg::pool_command{msg::pool_op::recycle, {}});
  BOOST_TEST(procs->calls.size() == held);
  BOOST_TEST(!recycle->answered());

  // The change makes a folder the pool's user cannot read yet (root's, 0700).
  const auto fresh = local / "fresh";
  std::filesystem::create_directory(fresh);
  ::chmod(fresh.c_str(), 0700);
  if (root) BOOST_TEST(!pool_user_may_list(fresh));
  std::optional<bool> readable_at_start, swapped_at_start, old_gone_at_start;
  procs->on_spawn = [&](const fake_launcher::process& p) {
    if (p.label != "nginx pool-0") return;
    readable_at_start = pool_user_may_list(fresh);
    swapped_at_start = content_of(local / "new.txt") == "new";
    old_gone_at_start = !procs->is_alive(pool.pid);
  };
  procs->finish(pool.pid);
  advance(gone_interval);
  procs->on_spawn = nullptr;
  BOOST_REQUIRE(rec->done);
  BOOST_TEST(rec->done->stopped_pools == std::vector<std::string>{"default"});
  BOOST_TEST(rec->done->bytes_received == 3u);
  BOOST_TEST(rec->done->files == 1u);
  BOOST_TEST(content_of(local / "new.txt") == "new");
  BOOST_TEST(staging_in(local).empty());
  // The swap ran while the pool was down, and the pool came back after it.
  BOOST_REQUIRE(swapped_at_start.has_value());
  BOOST_TEST(*swapped_at_start);
  BOOST_TEST(*old_gone_at_start);
  // The pools' users get their rights on the new files before the pools start.
  if (root)
    BOOST_TEST(*readable_at_start);
  else
    BOOST_TEST_MESSAGE("not root: directory security does not apply, its order is not checked");
  // Then the recycle that waited runs, on the pool's new nginx.
  BOOST_TEST(recycle->done);
  const auto restarted = procs->master("pool-0");
  BOOST_REQUIRE(restarted.pid != 0);
  const auto calls = procs->calls_since(held);
  const auto spawned = std::find(calls.begin(), calls.end(), "spawn nginx pool-0");
  BOOST_TEST((spawned != calls.end() &&
              std::find(spawned, calls.end(), signalled(restarted, "SIGHUP")) != calls.end()));
}

BOOST_AUTO_TEST_CASE(a_patch_touches_no_process_and_refreshes_access) {
  const bool root = ::geteuid() == 0;
  auto secured = driver;
  secured.directory_security = true;
  configure(secured);
  start_running();
  auto task = task_actor();
  const auto calls = procs->calls.size();
  const auto fresh = alloc_dir / "web" / "local" / "fresh";
  std::filesystem::create_directory(fresh);
  ::chmod(fresh.c_str(), 0700);
  auto rec = std::make_shared<upload_record>();
  auto client = upload_client(task, upload_of("local/fresh/a.txt", 2, false), rec);
  BOOST_REQUIRE(rec->id);
  // A block for a transfer it does not hold is refused.
  auto wrong = ask_void(task, msg::upload_block{*rec->id + 1, "xx"});
  BOOST_TEST(wrong->error.has_value());
  auto stolen = ask_void(task, msg::upload_block{*rec->id, "xx"});  // another sender
  BOOST_TEST(stolen->error.has_value());
  caf::anon_send(client, std::string("ab"));
  caf::anon_send(client, caf::atom("end"));
  run();
  BOOST_REQUIRE(rec->done);
  BOOST_TEST(rec->done->stopped_pools.empty());
  BOOST_TEST(content_of(fresh / "a.txt") == "ab");
  BOOST_TEST(procs->calls.size() == calls);  // no process was touched
  // Its end applied directory security to what the change made.
  if (root) BOOST_TEST(pool_user_may_list(fresh));
}

BOOST_AUTO_TEST_CASE(a_client_that_goes_leaves_no_transfer_and_a_change_restores_pools) {
  start_running();
  auto task = task_actor();
  const auto local = alloc_dir / "web" / "local";

  // Gone mid-body: the staged file goes, the target stays as it was.
  auto early = std::make_shared<upload_record>();
  auto cut = upload_client(task, upload_of("local/cut.bin", 10, true), early);
  BOOST_REQUIRE(early->id);
  caf::anon_send(cut, std::string("12345"));
  run();
  BOOST_TEST(early->blocks == 1u);
  BOOST_TEST(staging_in(local).size() == 1u);
  caf::anon_send_exit(cut, caf::exit_reason::user_shutdown);
  run();
  BOOST_TEST(staging_in(local).empty());
  BOOST_TEST(!std::filesystem::exists(local / "cut.bin"));

  // Gone after its body was complete: the change is applied, the pools held
  // for it come back, nothing holds the task afterwards.
  const auto pool = procs->master("pool-0");
  procs->hold_graceful = true;
  auto late = std::make_shared<upload_record>();
  auto client = upload_client(task, upload_of("local/late.txt", 4, true), late);
  caf::anon_send(client, std::string("late"));
  caf::anon_send(client, caf::atom("end"));
  run();
  BOOST_TEST(procs->calls.back() == signalled(pool, "SIGQUIT"));
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  run();
  procs->finish(pool.pid);
  advance(gone_interval);
  const auto restarted = procs->master("pool-0");
  BOOST_TEST(restarted.pid != 0);
  BOOST_TEST(procs->current_workers(restarted).size() == 1u);
  const auto snap = snapshot(task);
  BOOST_REQUIRE(snap.pools.size() == 1u);
  BOOST_TEST(static_cast<int>(snap.pools[0].status) == static_cast<int>(iis::pool_status::started));
  BOOST_TEST(content_of(local / "late.txt") == "late");
  BOOST_TEST(staging_in(local).empty());
  procs->hold_graceful = false;
  auto recycle = ask_void(task, msg::pool_command{msg::pool_op::recycle, {}});
  BOOST_TEST(recycle->done);  // nothing holds the task
}

BOOST_AUTO_TEST_CASE(an_upload_a_delete_and_a_stop_task_apply_in_one_order) {
  start_running();
  auto task = task_actor();
  const auto local = alloc_dir / "web" / "local";
  const auto file = local / "x.txt";
  { std::ofstream(file) << "old"; }

  // An upload whose body is still arriving holds nothing: a DELETE of its
  // target goes first, and the upload, complete later, puts the new file.
  auto first = std::make_shared<upload_record>();
  auto client = upload_client(task, upload_of("local/x.txt", 6, false), first);
  caf::anon_send(client, std::string("new"));
  run();
  auto removed = ask_void(task, msg::delete_path{{"local/x.txt"}});
  BOOST_TEST(removed->done);
  BOOST_TEST(!std::filesystem::exists(file));
  caf::anon_send(client, std::string("new"));
  caf::anon_send(client, caf::atom("end"));
  run();
  BOOST_REQUIRE(first->done);
  BOOST_TEST(content_of(file) == "newnew");

  // A PUT holds the task while its pool drains; a DELETE and a StopTask sent
  // meanwhile wait and apply after it, in the order they came.
  const auto pool = procs->master("pool-0");
  const auto front = procs->master("front");
  procs->hold_graceful = true;
  auto put = std::make_shared<upload_record>();
  auto putter = upload_client(task, upload_of("local/x.txt", 3, true), put);
  caf::anon_send(putter, std::string("put"));
  caf::anon_send(putter, caf::atom("end"));
  run();
  BOOST_TEST(procs->calls.back() == signalled(pool, "SIGQUIT"));
  auto order = std::make_shared<std::vector<std::string>>();
  ask_in_order(task, msg::delete_path{{"local/x.txt"}}, "delete", order);
  ask_in_order(actors.supervisor, msg::stop_task{task_id, 3s, ""}, "stop", order);
  BOOST_TEST(order->empty());
  BOOST_TEST(!procs->called(signalled(front, "SIGQUIT")));  // the stop waits
  BOOST_TEST(content_of(file) == "newnew");                 // the PUT is not swapped yet
  procs->hold_graceful = false;
  std::optional<bool> put_in_place_at_restart;
  procs->on_spawn = [&](const fake_launcher::process& p) {
    if (p.label == "nginx pool-0") put_in_place_at_restart = content_of(file) == "put";
  };
  procs->finish(pool.pid);
  advance(5s);
  procs->on_spawn = nullptr;
  BOOST_REQUIRE(put->done);
  BOOST_TEST(put->done->stopped_pools == std::vector<std::string>{"default"});
  BOOST_REQUIRE(put_in_place_at_restart.has_value());
  BOOST_TEST(*put_in_place_at_restart);
  BOOST_TEST((*order == std::vector<std::string>{"delete", "stop"}));
  BOOST_TEST(!std::filesystem::exists(file));  // the DELETE came after the PUT
  BOOST_TEST(procs->called(signalled(front, "SIGQUIT")));
  BOOST_TEST(staging_in(local).empty());

  // After the stop, an upload still applies whole (the task dir stays).
  auto after = std::make_shared<upload_record>();
  auto last = upload_client(task, upload_of("local/x.txt", 5, true), after);
  caf::anon_send(last, std::string("after"));
  caf::anon_send(last, caf::atom("end"));
  run();
  BOOST_REQUIRE(after->done);
  BOOST_TEST(after->done->stopped_pools.empty());  // no pool runs any more
  BOOST_TEST(content_of(file) == "after");
}

BOOST_AUTO_TEST_SUITE_END()
