// Boost.Context's fiber, ucontext back end (BOOST_USE_UCONTEXT, and
// BOOST_USE_ASAN under the sanitizers: set by CMake). Only this file and
// fiber_record.cpp include Boost.Context, so the back end cannot differ
// between two translation units.

#include "common/fiber.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <exception>
#include <new>
#include <stdexcept>
#include <utility>

#if defined(BOOST_USE_ASAN)
#include <sanitizer/common_interface_defs.h>  // Boost.Context calls these, includes none
#endif
#include <boost/context/fiber.hpp>

#if !defined(BOOST_USE_UCONTEXT)
#error "common/fiber.cpp is built with BOOST_USE_UCONTEXT (see common/CMakeLists.txt)"
#endif

namespace nomad_iis {
namespace {

namespace ctx = boost::context;

/// A stack of mmap'd pages (touched ones only cost memory) below a guard
/// page, so an overflow faults instead of writing over the heap.
class guarded_stack {
 public:
  explicit guarded_stack(std::size_t bytes) : bytes_(bytes) {}

  ctx::stack_context allocate() {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t size = (bytes_ + page - 1) / page * page + page;
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    ::mprotect(base, page, PROT_NONE);  // stacks grow down: the guard is the lowest page
    ctx::stack_context sc;
    sc.size = size;
    sc.sp = static_cast<char*>(base) + size;
    return sc;
  }

  void deallocate(ctx::stack_context& sc) noexcept {
    ::munmap(static_cast<char*>(sc.sp) - sc.size, sc.size);
  }

 private:
  std::size_t bytes_;
};

}  // namespace

struct fiber::state {
  std::function<void()> body;
  ctx::fiber self;    ///< the body, while it is suspended (or not started)
  ctx::fiber caller;  ///< whoever resumed it, while it runs
  std::exception_ptr error;
  bool started = false;
  bool finished = false;
};

fiber::fiber(std::function<void()> body, std::size_t stack_bytes)
    : state_(std::make_unique<state>()) {
  state_->body = std::move(body);
  state* s = state_.get();
  s->self = ctx::fiber(std::allocator_arg, guarded_stack(stack_bytes), [s](ctx::fiber&& caller) {
    s->caller = std::move(caller);
    if (!s->started) {  // destroyed before its first resume: Boost enters it to end it
      s->finished = true;
      return std::move(s->caller);
    }
    try {
      s->body();
    } catch (const ctx::detail::forced_unwind&) {
      s->finished = true;
      throw;  // Boost's own unwinding of an unfinished fiber: it must reach Boost
    } catch (...) {
      s->error = std::current_exception();
    }
    s->finished = true;
    return std::move(s->caller);
  });
}

fiber::~fiber() = default;  // ctx::fiber's destructor unwinds an unfinished body

bool fiber::resume() {
  if (state_->finished) throw std::logic_error("fiber: resumed after it finished");
  state_->started = true;
  state_->self = std::move(state_->self).resume();
  if (state_->error) std::rethrow_exception(std::exchange(state_->error, nullptr));
  return !state_->finished;
}

void fiber::suspend() {
  state_->caller = std::move(state_->caller).resume();
}

bool fiber::started() const {
  return state_->started;
}

bool fiber::finished() const {
  return state_->finished;
}

}  // namespace nomad_iis
