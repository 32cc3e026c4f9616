#pragma once
// A function that runs on a stack of its own and can stop midway: the
// project's one coroutine mechanism. A library whose callbacks block (for
// bytes to read, for room to write) runs inside a fiber; the callback
// suspends it instead, and whoever has the next bytes or wants the next
// output resumes it, from any thread, one at a time. No thread ever waits
// for the data. Built on Boost.Context's ucontext back end (ASan-aware).

#include <cstddef>
#include <functional>
#include <memory>

namespace nomad_iis {

class fiber {
 public:
  /// The body does not run before the first resume().
  explicit fiber(std::function<void()> body, std::size_t stack_bytes = 512 << 10);
  /// An unfinished body is unwound (its destructors run): a forced-unwind
  /// exception passes through it, so no frame between the suspend() and the
  /// body may swallow it (catch (...) must rethrow) or be C code. Owners of
  /// bodies suspended inside a C library's callback make them finish instead.
  ~fiber();
  fiber(const fiber&) = delete;
  fiber& operator=(const fiber&) = delete;

  /// Runs the body until it suspends or returns. Returns true while it is
  /// unfinished; rethrows, on the caller's stack, whatever the body threw.
  bool resume();
  /// Inside the body only: back to resume()'s caller, until the next resume().
  void suspend();
  /// Whether resume() was ever called (a body never started never runs).
  bool started() const;
  bool finished() const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace nomad_iis
