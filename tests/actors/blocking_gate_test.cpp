// The blocking pool's gates on real threads: a gate runs its jobs at most
// `limit` at a time and in arrival order, other work passes it, and a job
// that finds no slot within its wait is refused and never runs.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/blocking.hpp"
#include "actors/supervisor.hpp"

using namespace nomad_iis;
using namespace std::chrono_literals;

namespace {

struct outcome {
  std::vector<int> ran;  ///< gated jobs in the order they started
  int most_at_once = 0;  ///< the most gated jobs running together
  bool ungated_done = false;
  bool ungated_before_last_gated = false;
  bool late_refused = false;
  bool late_ran = false;
  /// Whether the refusal came before the gated work ended (after its wait,
  /// not when it would have reached the front).
  bool refused_in_time = false;
};

struct shared_counts {
  std::mutex mutex;
  std::vector<int> ran;
  int running = 0;
  int most = 0;
  std::atomic<bool> late_ran{false};
};

caf::behavior gate_client(caf::event_based_actor* self, caf::actor pool,
                          std::shared_ptr<std::promise<outcome>> done) {
  auto counts = std::make_shared<shared_counts>();
  auto result = std::make_shared<outcome>();
  auto pending = std::make_shared<int>(5);
  auto finish_one = [done, counts, result, pending] {
    if (--*pending > 0) return;
    std::lock_guard lock(counts->mutex);
    result->ran = counts->ran;
    result->most_at_once = counts->most;
    result->late_ran = counts->late_ran;
    done->set_value(*result);
  };
  for (int i = 0; i < 3; ++i) {
    off_thread_gated<caf::unit_t>(
        self, pool, "screenshot", 1, caf::timespan{5s},
        [counts, i] {
          {
            std::lock_guard lock(counts->mutex);
            counts->ran.push_back(i);
            counts->most = std::max(counts->most, ++counts->running);
          }
          std::this_thread::sleep_for(150ms);
          std::lock_guard lock(counts->mutex);
          --counts->running;
        },
        [finish_one, result, i](job_result<caf::unit_t> r) {
          BOOST_CHECK(r.ok());
          if (i == 2) result->ungated_before_last_gated = result->ungated_done;
          finish_one();
        });
  }
  // Waits 50 ms behind 450 ms of gated work: refused, never run.
  off_thread_gated<caf::unit_t>(
      self, pool, "screenshot", 1, caf::timespan{50ms}, [counts] { counts->late_ran = true; },
      [finish_one, result, counts](job_result<caf::unit_t> r) {
        result->late_refused = r.refused && !r.ok();
        std::lock_guard lock(counts->mutex);
        result->refused_in_time = counts->ran.size() == 1;
        finish_one();
      });
  // Work outside the gate runs on another worker meanwhile.
  off_thread<caf::unit_t>(
      self, pool, [] {},
      [finish_one, result](job_result<caf::unit_t> r) {
        result->ungated_done = r.ok();
        finish_one();
      });
  return {[](int) {}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(blocking_gates)

BOOST_AUTO_TEST_CASE(a_gate_runs_one_job_at_a_time_in_order_and_refuses_one_that_waited_too_long) {
  caf::actor_system_config cfg;
  configure_actor_system(cfg);
  cfg.set("scheduler.max-threads", std::size_t{2});
  caf::actor_system sys{cfg};
  auto pool = spawn_blocking_pool(sys, 3, true);
  auto done = std::make_shared<std::promise<outcome>>();
  auto result = done->get_future();
  auto client = sys.spawn(gate_client, pool, done);
  BOOST_REQUIRE(result.wait_for(10s) == std::future_status::ready);
  const auto r = result.get();
  BOOST_TEST(r.ran == (std::vector<int>{0, 1, 2}), boost::test_tools::per_element());
  BOOST_TEST(r.most_at_once == 1);
  BOOST_TEST(r.ungated_done);
  BOOST_TEST(r.ungated_before_last_gated);
  BOOST_TEST(r.late_refused);
  BOOST_TEST(!r.late_ran);
  BOOST_TEST(r.refused_in_time);
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
