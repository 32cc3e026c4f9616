#include "iis/executor.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace nomad_iis::iis {

struct executor::impl {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::deque<std::function<void()>> ready;
  /// Due time → (id, work); `timer_index` finds an entry by id for cancel().
  std::multimap<clock::time_point, std::pair<std::uint64_t, std::function<void()>>> timers;
  std::map<std::uint64_t, decltype(timers)::iterator> timer_index;
  std::uint64_t next_timer = 1;
  std::vector<std::thread> threads;

  void run() {
    std::unique_lock lock(mutex);
    while (true) {
      if (stopping) break;
      const auto now = clock::now();
      while (!timers.empty() && timers.begin()->first <= now) {
        auto it = timers.begin();
        timer_index.erase(it->second.first);
        ready.push_back(std::move(it->second.second));
        timers.erase(it);
      }
      if (!ready.empty()) {
        auto fn = std::move(ready.front());
        ready.pop_front();
        lock.unlock();
        fn();
        fn = nullptr;  // destroy captures outside the lock as well
        lock.lock();
        continue;
      }
      if (timers.empty()) {
        wake.wait(lock);
      } else {
        // A copy: the node may be erased by another thread while we wait.
        const auto due = timers.begin()->first;
        wake.wait_until(lock, due);
      }
    }
    // Drop what is left; its destructors may re-enter post()/cancel().
    auto left = std::move(ready);
    auto left_timers = std::move(timers);
    timer_index.clear();
    lock.unlock();
  }
};

executor::executor(std::size_t threads) : impl_(std::make_shared<impl>()) {
  std::lock_guard lock(impl_->mutex);
  for (std::size_t i = 0; i < threads; ++i) {
    impl_->threads.emplace_back([state = impl_] { state->run(); });
  }
}

executor::~executor() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    threads = std::move(impl_->threads);
  }
  impl_->wake.notify_all();
  for (auto& thread : threads) {
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
}

void executor::post(std::function<void()> fn) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->ready.push_back(std::move(fn));
  }
  impl_->wake.notify_one();
}

std::uint64_t executor::post_after(clock::duration delay, std::function<void()> fn) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return 0;
    id = impl_->next_timer++;
    auto it = impl_->timers.emplace(clock::now() + delay, std::make_pair(id, std::move(fn)));
    impl_->timer_index.emplace(id, it);
  }
  impl_->wake.notify_one();
  return id;
}

void executor::cancel(std::uint64_t timer_id) {
  std::function<void()> dropped;
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->timer_index.find(timer_id);
  if (it == impl_->timer_index.end()) return;
  dropped = std::move(it->second->second.second);
  impl_->timers.erase(it->second);
  impl_->timer_index.erase(it);
  // `dropped` is destroyed after the lock is released (declared first).
}

}  // namespace nomad_iis::iis
