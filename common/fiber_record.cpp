// The two definitions Boost.Context's ucontext back end (common/fiber.cpp)
// expects from Boost's compiled library (libs/context/src/fiber.cpp), as
// Boost writes them. Debian builds that library for the assembly (fcontext)
// back end only. In a file of their own, like in Boost: a fiber may be
// resumed on another thread, and a compiler that inlined current() into the
// switch could keep the address of the old thread's record across it.

#if defined(BOOST_USE_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#include <boost/context/fiber.hpp>

#if !defined(BOOST_USE_UCONTEXT)
#error "common/fiber_record.cpp is built with BOOST_USE_UCONTEXT (see common/CMakeLists.txt)"
#endif

namespace boost::context::detail {

// Each thread's record of its own context, made the first time a fiber
// runs on that thread.
namespace {
thread_local fiber_activation_record* current_record = nullptr;
thread_local std::size_t record_users = 0;
}  // namespace

fiber_activation_record_initializer::fiber_activation_record_initializer() noexcept {
  if (record_users++ == 0) current_record = new fiber_activation_record();
}

fiber_activation_record_initializer::~fiber_activation_record_initializer() {
  if (--record_users == 0) {
    delete current_record;
    current_record = nullptr;
  }
}

fiber_activation_record*& fiber_activation_record::current() noexcept {
  thread_local fiber_activation_record_initializer initializer;
  return current_record;
}

}  // namespace boost::context::detail
