// The task actor's screenshots and dumps (actors/task_inspect.hpp): what it
// asks the inspector for, the dump streamed as a download of its requester
// and released at the end or when the requester goes, and its refusals.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "messages/inspect.hpp"
#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;

namespace {

/// What a reader of a dump saw.
struct dump_record {
  std::optional<msg::download_started> started;
  std::string bytes;
  bool ended = false;
  std::optional<caf::error> error;
};

/// Reads the next block of the dump `rec` was started, and the rest after it.
void read_next(caf::event_based_actor* self, caf::actor task, std::shared_ptr<dump_record> rec) {
  self->request(task, caf::infinite, msg::download_next{rec->started->id, 7})
      .then(
          [self, task, rec](msg::file_block& b) {
            if (b.bytes.empty()) {
              rec->ended = true;
              return;
            }
            rec->bytes += b.bytes;
            read_next(self, task, rec);
          },
          [rec](caf::error& e) { rec->error = std::move(e); });
}

/// Asks for a dump and reads it to its end, as a request actor does.
struct dump_fixture : fixture {
  std::shared_ptr<dump_record> read_dump(const caf::actor& task, const std::string& pool) {
    auto rec = std::make_shared<dump_record>();
    auto reader = sys.spawn(
        [rec, pool](caf::event_based_actor* self, caf::actor task) {
          self->request(task, caf::infinite, msg::take_dump{pool})
              .then(
                  [self, task, rec](msg::download_started& d) {
                    rec->started = d;
                    read_next(self, task, rec);
                  },
                  [rec](caf::error& e) { rec->error = std::move(e); });
        },
        task);
    own(reader);
    run();
    return rec;
  }
};

std::optional<inspect::inspect_failure> refusal_of(const std::optional<caf::error>& err) {
  return err ? inspect_failure_of(*err) : std::nullopt;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(inspect_tests, dump_fixture)

BOOST_AUTO_TEST_CASE(a_screenshot_opens_the_sites_binding_with_the_drivers_browser) {
  start_running();
  auto task = task_actor();
  auto shot = ask<msg::screenshot_taken>(task, msg::take_screenshot{"/about?x=1", 800, 600});
  BOOST_REQUIRE(shot->value);
  BOOST_TEST(shot->value->png == inspections->png);
  BOOST_REQUIRE(inspections->shots.size() == 1u);
  const auto& req = inspections->shots[0];
  BOOST_TEST(req.base_url == "http://127.0.0.1:" + std::to_string(http_port));
  BOOST_TEST(req.path == "/about?x=1");
  BOOST_TEST(req.width == 800);
  BOOST_TEST(req.height == 600);
  BOOST_TEST(req.chromium_path == driver.chromium_path);
  BOOST_TEST(
      req.timeout.count() ==
      std::chrono::duration_cast<std::chrono::milliseconds>(driver.screenshot_timeout).count());
}

BOOST_AUTO_TEST_CASE(a_dump_of_the_pools_worker_streams_to_its_requester_then_goes) {
  start_running();
  const auto workers = procs->current_workers(procs->master("pool-0"));
  BOOST_REQUIRE(workers.size() == 1u);
  auto rec = read_dump(task_actor(), "default");
  BOOST_REQUIRE(!rec->error);
  BOOST_REQUIRE(rec->started);
  BOOST_TEST(rec->started->has_length);
  BOOST_TEST(rec->started->length == inspections->core.size());
  BOOST_TEST(rec->ended);
  BOOST_TEST(rec->bytes == inspections->core);  // in blocks of 7 bytes
  BOOST_TEST(inspections->dumped_pids == std::vector<std::int32_t>{workers[0].pid});
  BOOST_TEST(inspections->last_dump.expired());  // released at its last block
}

BOOST_AUTO_TEST_CASE(a_dump_whose_requester_is_gone_is_released) {
  start_running();
  // ask's actor ends once it has the answer, before it reads a block.
  auto started = ask<msg::download_started>(task_actor(), msg::take_dump{"default"});
  BOOST_REQUIRE(started->value);
  run();
  BOOST_TEST(inspections->dumped_pids.size() == 1u);
  BOOST_TEST(inspections->last_dump.expired());
}

BOOST_AUTO_TEST_CASE(a_dump_of_an_unknown_pool_is_refused_before_gcore_runs) {
  start_running();
  auto rec = read_dump(task_actor(), "nope");
  auto refused = refusal_of(rec->error);
  BOOST_REQUIRE(refused);
  BOOST_TEST(static_cast<int>(refused->kind) ==
             static_cast<int>(inspect::inspect_errc::bad_request));
  BOOST_TEST(refused->code == "unknown_pool");
  BOOST_TEST(refused->message.find("\"nope\"") != std::string::npos);
  BOOST_TEST(inspections->dumped_pids.empty());
}

BOOST_AUTO_TEST_SUITE_END()
