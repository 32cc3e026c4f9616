#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/http/coalesced_reads.hpp"

using namespace nomad_iis::http;
using namespace std::chrono_literals;

namespace {

/// A computation that blocks until released, so a test decides who arrives
/// while it runs.
class gate {
 public:
  void open() { opened_.set_value(); }
  void wait() { released_.wait(); }

 private:
  std::promise<void> opened_;
  std::shared_future<void> released_{opened_.get_future()};
};

/// Polls until `pred` holds or 5 s pass.
template <class Pred>
bool eventually(Pred pred) {
  auto until = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(coalescing)

BOOST_AUTO_TEST_CASE(a_lone_reader_computes) {
  coalesced_reads<std::string, int> reads;
  int calls = 0;
  BOOST_TEST(*reads.read("a", [&] { return ++calls; }) == 1);
  BOOST_TEST(*reads.read("a", [&] { return ++calls; }) == 2);  // no caching between reads
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(readers_arriving_during_a_round_share_the_next_one) {
  coalesced_reads<std::string, int> reads;
  std::atomic<int> calls{0};
  std::atomic<int> started{0};
  gate first, second;
  // The first reader's round is under way (it read the state "before" the
  // others came), so none of them may get its answer.
  auto leader = std::async(std::launch::async, [&] {
    return *reads.read("a", [&] {
      ++started;
      first.wait();
      return ++calls;
    });
  });
  BOOST_REQUIRE(eventually([&] { return started == 1; }));
  std::vector<std::future<int>> followers;
  for (int i = 0; i < 8; ++i) {
    followers.push_back(std::async(std::launch::async, [&] {
      return *reads.read("a", [&] {
        ++started;
        second.wait();
        return ++calls;
      });
    }));
  }
  std::this_thread::sleep_for(50ms);  // let the followers queue up
  first.open();
  BOOST_REQUIRE(eventually([&] { return started == 2; }));
  second.open();
  BOOST_TEST(leader.get() == 1);
  for (auto& f : followers) BOOST_TEST(f.get() == 2);
  BOOST_TEST(calls == 2);  // nine readers, two rounds
}

BOOST_AUTO_TEST_CASE(keys_do_not_wait_for_each_other) {
  coalesced_reads<std::string, int> reads;
  gate slow;
  std::atomic<bool> running{false};
  auto blocked = std::async(std::launch::async, [&] {
    return *reads.read("slow", [&] {
      running = true;
      slow.wait();
      return 1;
    });
  });
  BOOST_REQUIRE(eventually([&] { return running.load(); }));
  BOOST_TEST(*reads.read("fast", [] { return 2; }) == 2);
  slow.open();
  BOOST_TEST(blocked.get() == 1);
}

BOOST_AUTO_TEST_CASE(a_failure_reaches_every_reader_of_its_round_only) {
  coalesced_reads<std::string, int> reads;
  gate first, second;
  std::atomic<int> started{0};
  auto leader = std::async(std::launch::async, [&] {
    return *reads.read("a", [&] {
      ++started;
      first.wait();
      return 1;
    });
  });
  BOOST_REQUIRE(eventually([&] { return started == 1; }));
  std::vector<std::future<int>> followers;
  for (int i = 0; i < 4; ++i) {
    followers.push_back(std::async(std::launch::async, [&]() -> int {
      return *reads.read("a", [&]() -> int {
        ++started;
        second.wait();
        throw std::runtime_error("task gone");
      });
    }));
  }
  std::this_thread::sleep_for(50ms);
  first.open();
  BOOST_REQUIRE(eventually([&] { return started == 2; }));
  second.open();
  BOOST_TEST(leader.get() == 1);
  for (auto& f : followers) BOOST_CHECK_THROW(f.get(), std::runtime_error);
  // The failed round leaves nothing behind.
  BOOST_TEST(*reads.read("a", [] { return 3; }) == 3);
}

BOOST_AUTO_TEST_CASE(many_threads_many_rounds) {
  coalesced_reads<int, int> reads;
  std::atomic<int> calls{0};
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        int key = (t + i) % 3;
        if (*reads.read(key, [&] {
              ++calls;
              return key * 10;
            }) != key * 10)
          ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(wrong == 0);
  BOOST_TEST(calls <= 16 * 500);
  BOOST_TEST(calls > 0);
}

BOOST_AUTO_TEST_SUITE_END()
