#pragma once
// One operation at a time, the rest in order: what makes a pool's or the
// front's changes happen in one visible sequence. An operation gets a
// `finished` callback; calling it (once) starts the next one. Lives in an
// actor's state and is used from that actor's thread only.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <utility>

namespace nomad_iis {

class operation_queue {
 public:
  using finished_fn = std::function<void()>;
  using operation = std::function<void(finished_fn finished)>;

  /// Runs after every operation that finished (the owner tells what changed).
  void after_each(std::function<void()> fn) { after_ = std::move(fn); }

  /// Runs `op` now, or once the operations before it finished.
  void run(operation op) {
    if (busy_) {
      queued_.push_back(std::move(op));
      return;
    }
    busy_ = true;
    auto once = std::make_shared<bool>(false);
    op([this, once, epoch = epoch_] {
      if (std::exchange(*once, true) || epoch != epoch_) return;
      busy_ = false;
      if (after_) after_();
      if (queued_.empty()) return;
      auto next = std::move(queued_.front());
      queued_.pop_front();
      run(std::move(next));
    });
  }

  /// Abandons the operation in flight (a kill goes first): its finish is
  /// ignored from now on; the queued ones stay queued.
  void preempt() {
    ++epoch_;
    busy_ = false;
  }

  /// Changes with every preemption: late answers of an abandoned operation
  /// compare it and drop themselves.
  std::uint64_t epoch() const { return epoch_; }

 private:
  bool busy_ = false;
  std::uint64_t epoch_ = 0;
  std::deque<operation> queued_;
  std::function<void()> after_;
};

}  // namespace nomad_iis
