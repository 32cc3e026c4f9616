#pragma once
// Blocking work (fork/exec, the file system, useradd, openssl) runs on a few
// worker actors with threads of their own, never on a task's or a pool's
// thread: an actor hands a closure to the pool and gets the outcome back as
// the reply to its request. Jobs wait in one queue, so a slow job never
// holds up the ones behind it while another worker is free.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/unit.hpp>

#include "iis/failure.hpp"
#include "messages/error.hpp"
#include "messages/site.hpp"

namespace nomad_iis {

/// `workers` worker actors; `detached` gives each its own thread (false in
/// tests, where CAF's test coordinator runs them deterministically).
caf::actor spawn_blocking_pool(caf::actor_system& sys, std::size_t workers, bool detached);

/// Text of a worker's error (the pool went away).
std::string self_error_text(const caf::error& error);

/// What a job produced: its value, or what it threw (a backend_error keeps
/// its code; anything else counts as an I/O failure).
template <class T>
struct job_result {
  std::optional<T> value;
  iis::failure error;
  /// What the job threw, for callers that answer with its own type.
  std::exception_ptr thrown;
  /// A gated job that never ran: every slot of its gate stayed taken.
  bool refused = false;
  bool ok() const { return value.has_value(); }
};

namespace detail {

/// `work` wrapped to keep its value or what it threw in `out`.
template <class T, class Work>
std::function<void()> capture_into(std::shared_ptr<job_result<T>> out, Work work) {
  return [out, work = std::move(work)]() mutable {
    try {
      if constexpr (std::is_void_v<decltype(work())>) {
        work();
        out->value.emplace();
      } else {
        out->value.emplace(work());
      }
    } catch (const std::exception& e) {
      out->error = iis::failure_of(e, iis::errc::io_failure);
      out->thrown = std::current_exception();
    }
  };
}

/// Sends `job` to `pool` and then runs `then(*out)` on `self`'s thread.
template <class T, class Self, class Job, class Then>
void run_job(Self* self, const caf::actor& pool, Job job, std::shared_ptr<job_result<T>> out,
             Then then) {
  auto next = std::make_shared<Then>(std::move(then));
  self->request(pool, caf::infinite, std::move(job))
      .then([out, next]() { (*next)(std::move(*out)); },
            [out, next](caf::error& error) {
              if (code_of(error) == ec::busy) {
                out->refused = true;
                out->error = {iis::errc::io_failure, self_error_text(error)};
              } else {
                out->error = {iis::errc::io_failure, "blocking worker: " + self_error_text(error)};
              }
              (*next)(std::move(*out));
            });
}

}  // namespace detail

/// Runs `work()` on `pool` and then `then(job_result<T>)` on `self`'s thread
/// (T = caf::unit_t for work that returns nothing).
template <class T, class Self, class Work, class Then>
void off_thread(Self* self, const caf::actor& pool, Work work, Then then) {
  auto out = std::make_shared<job_result<T>>();
  msg::blocking_job job{detail::capture_into<T>(out, std::move(work))};
  detail::run_job<T>(self, pool, std::move(job), out, std::move(then));
}

/// off_thread behind `gate`: at most `limit` of its jobs run at once; one
/// that finds no slot within `max_wait` never runs (`refused`).
template <class T, class Self, class Work, class Then>
void off_thread_gated(Self* self, const caf::actor& pool, std::string gate, std::int64_t limit,
                      caf::timespan max_wait, Work work, Then then) {
  auto out = std::make_shared<job_result<T>>();
  msg::gated_job job{std::move(gate), limit, max_wait,
                     detail::capture_into<T>(out, std::move(work))};
  detail::run_job<T>(self, pool, std::move(job), out, std::move(then));
}

}  // namespace nomad_iis
