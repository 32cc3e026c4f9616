// The poller on virtual time: when it checks, and what it answers.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "actors/poller.hpp"
#include "tests/actors/fixture.hpp"

using namespace nomad_iis;
using namespace nomad_iis::test;
using namespace std::chrono_literals;

namespace {

struct checks {
  std::vector<std::chrono::milliseconds> at;  ///< virtual time of each check, from the start
  std::optional<bool> answer;
};

struct polling_state {
  poller polls;
};

/// Starts one poll that holds at `holds_after` and gives up at `limit`.
caf::behavior polling(caf::stateful_actor<polling_state>* self, std::shared_ptr<checks> seen,
                      std::chrono::milliseconds interval, std::chrono::milliseconds holds_after,
                      std::chrono::milliseconds limit) {
  const auto since = self->clock().now();
  self->state.polls.start(
      self,
      [self, seen, since, holds_after] {
        const auto now =
            std::chrono::duration_cast<std::chrono::milliseconds>(self->clock().now() - since);
        seen->at.push_back(now);
        return now >= holds_after;
      },
      since + limit, interval, [seen](bool held) { seen->answer = held; });
  return {[self](atom::poll, std::uint64_t id) { self->state.polls.tick(self, id); }};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(poller_checks, fixture)

BOOST_AUTO_TEST_CASE(a_wait_is_checked_soon_then_every_interval_from_its_start) {
  auto seen = std::make_shared<checks>();
  sys.spawn(polling, seen, 10ms, 35ms, 1s);
  advance(100ms);
  std::vector<std::int64_t> at;
  for (const auto& check : seen->at) at.push_back(check.count());
  BOOST_TEST((at == std::vector<std::int64_t>{0, 1, 2, 4, 8, 10, 20, 30, 40}));
  BOOST_TEST((seen->answer == std::optional<bool>(true)));
}

BOOST_AUTO_TEST_CASE(a_wait_that_never_holds_is_answered_at_its_deadline) {
  auto seen = std::make_shared<checks>();
  sys.spawn(polling, seen, 50ms, 1h, 200ms);
  advance(199ms);
  BOOST_TEST(!seen->answer.has_value());
  advance(1ms);
  BOOST_TEST((seen->answer == std::optional<bool>(false)));
  BOOST_TEST(seen->at.back().count() == 200);
}

BOOST_AUTO_TEST_SUITE_END()
