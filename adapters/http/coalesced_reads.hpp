#pragma once
// Request coalescing for reads: callers that read the same key at the same
// time share one computation, and every caller gets an answer computed after
// it arrived (a caller that finds a computation under way waits for the next
// one, never reuses an answer begun before it came). Status polling by many
// clients of one task then costs the task's actor one message per round
// instead of one per request, and no answer is stale.

#include <exception>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace nomad_iis::http {

template <class Key, class Value>
class coalesced_reads {
 public:
  using value_ptr = std::shared_ptr<const Value>;

  /// The value for `key`, from `compute()` run by this caller or by one that
  /// arrived with it. What compute throws is rethrown to every caller of
  /// that round.
  template <class Compute>
  value_ptr read(const Key& key, Compute&& compute) {
    std::unique_lock lock(mutex_);
    auto& slot = slots_[key];
    if (slot.next) {
      // Someone else will run the next round: wait for its answer. A
      // future, not a condition variable: waking its readers does not make
      // them queue on a mutex.
      auto answer = slot.next->result;
      lock.unlock();
      return answer.get();
    }
    auto mine = std::make_shared<round>();
    if (!slot.running) {
      slot.running = mine;
    } else {
      // The running round may have read the state before we came: run the
      // next one once it is over. Whoever arrives meanwhile joins ours.
      slot.next = mine;
      auto previous = slot.running->result;
      lock.unlock();
      previous.wait();
      lock.lock();
      auto& current = slots_[key];
      current.running = mine;
      current.next.reset();
    }
    lock.unlock();
    value_ptr value;
    std::exception_ptr failure;
    try {
      value = std::make_shared<const Value>(compute());
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    auto it = slots_.find(key);
    it->second.running.reset();
    if (!it->second.next) slots_.erase(it);
    lock.unlock();
    if (failure) {
      mine->promise.set_exception(failure);
      std::rethrow_exception(failure);
    }
    mine->promise.set_value(value);
    return value;
  }

 private:
  struct round {
    std::promise<value_ptr> promise;
    std::shared_future<value_ptr> result{promise.get_future()};
  };
  /// A key's round under way and the one that will follow it.
  struct slot {
    std::shared_ptr<round> running;
    std::shared_ptr<round> next;
  };

  std::mutex mutex_;
  std::map<Key, slot> slots_;
};

}  // namespace nomad_iis::http
