// common/fiber: a body runs in steps, its exceptions reach the caller, an
// unfinished one is unwound when destroyed, and it may be resumed from
// another thread each time.

#include "common/fiber.hpp"

#include <boost/test/unit_test.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using nomad_iis::fiber;

namespace {

/// Counts its live instances: a body's locals must all be destroyed.
struct tracked {
  static int alive;
  tracked() { ++alive; }
  ~tracked() { --alive; }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
};
int tracked::alive = 0;

[[noreturn]] void throw_deep(int depth) {
  if (depth == 0) throw std::runtime_error("deep failure");
  std::vector<char> frame(1000, 'x');  // heap and stack work on the way down
  throw_deep(depth - 1 + static_cast<int>(frame.size() - 1000));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fiber_steps)

BOOST_AUTO_TEST_CASE(runs_in_steps_between_resumes) {
  std::vector<std::string> log;
  std::unique_ptr<fiber> f;
  f = std::make_unique<fiber>([&] {
    log.push_back("a");
    f->suspend();
    log.push_back("b");
    f->suspend();
    log.push_back("c");
  });
  BOOST_TEST(log.empty());  // nothing runs before the first resume
  BOOST_TEST(f->resume());
  BOOST_TEST(log == std::vector<std::string>({"a"}));
  BOOST_TEST(f->resume());
  BOOST_TEST(!f->finished());
  BOOST_TEST(!f->resume());
  BOOST_TEST(f->finished());
  BOOST_TEST(log == std::vector<std::string>({"a", "b", "c"}));
  BOOST_CHECK_THROW(f->resume(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(exceptions_reach_the_caller) {
  std::unique_ptr<fiber> f;
  f = std::make_unique<fiber>([&] {
    tracked local;
    f->suspend();
    throw_deep(50);
  });
  BOOST_TEST(f->resume());
  BOOST_TEST(tracked::alive == 1);
  try {
    f->resume();
    BOOST_FAIL("no exception");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) == "deep failure");
  }
  BOOST_TEST(f->finished());
  BOOST_TEST(tracked::alive == 0);
  // A fiber can catch its own exceptions, across suspensions, too.
  int caught = 0;
  fiber g([&] {
    for (int i = 0; i < 3; ++i) {
      try {
        g.suspend();
        throw std::runtime_error("inside");
      } catch (const std::runtime_error&) {
        ++caught;
      }
    }
  });
  while (g.resume()) {
  }
  BOOST_TEST(caught == 3);
}

BOOST_AUTO_TEST_CASE(an_unfinished_fiber_is_unwound) {
  bool after = false;
  {
    std::unique_ptr<fiber> f;
    f = std::make_unique<fiber>([&] {
      tracked outer;
      auto heap = std::make_unique<std::vector<int>>(100000, 7);  // ASan reports it if it leaks
      try {
        tracked inner;
        f->suspend();
      } catch (const std::exception&) {
        BOOST_FAIL("the unwinding is no std::exception");
      }
      after = true;
    });
    BOOST_TEST(f->resume());
    BOOST_TEST(tracked::alive == 2);
  }
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST(!after);
  {
    fiber never_started([] { BOOST_FAIL("never runs"); });
  }
}

BOOST_AUTO_TEST_CASE(resumed_from_another_thread_each_time) {
  std::vector<std::thread::id> seen;
  std::unique_ptr<fiber> f;
  f = std::make_unique<fiber>([&] {
    for (int i = 0; i < 6; ++i) {
      seen.push_back(std::this_thread::get_id());
      f->suspend();
    }
    throw std::runtime_error("from the last thread");
  });
  std::vector<std::thread::id> resumers;
  for (int i = 0; i < 6; ++i) {
    std::thread t([&] {
      resumers.push_back(std::this_thread::get_id());
      f->resume();
    });
    t.join();
  }
  BOOST_TEST((seen == resumers));
  std::thread last([&] { BOOST_CHECK_THROW(f->resume(), std::runtime_error); });
  last.join();
  BOOST_TEST(f->finished());
}

BOOST_AUTO_TEST_CASE(many_fibers_at_once) {
  // Each keeps its own stack: interleaved steps do not disturb one another.
  std::vector<std::unique_ptr<fiber>> fibers(64);
  std::vector<int> sums(fibers.size(), 0);
  for (std::size_t i = 0; i < fibers.size(); ++i)
    fibers[i] = std::make_unique<fiber>([&, i] {
      int local = 0;
      for (int step = 1; step <= 10; ++step) {
        local += step * static_cast<int>(i);
        fibers[i]->suspend();
      }
      sums[i] = local;
    });
  for (int round = 0; round <= 10; ++round)
    for (auto& f : fibers) f->resume();
  for (std::size_t i = 0; i < fibers.size(); ++i) BOOST_TEST(sums[i] == 55 * static_cast<int>(i));
}

BOOST_AUTO_TEST_SUITE_END()
