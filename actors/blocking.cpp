#include "actors/blocking.hpp"

#include <deque>
#include <vector>

#include <caf/all.hpp>

#include "messages/error.hpp"

namespace nomad_iis {
namespace {

struct blocking_pool_state {
  std::vector<caf::actor> idle;
  std::deque<std::pair<msg::blocking_job, caf::response_promise>> queued;
  static inline const char* name = "blocking_pool";
};

using pool_ptr = caf::stateful_actor<blocking_pool_state>*;

/// Runs a job and answers its requester itself (the pool delegated it),
/// then tells the pool it is free: the pool is off the answer's path.
caf::behavior blocking_worker(caf::event_based_actor* self, caf::actor_addr pool) {
  return {[self, pool](msg::blocking_job& job) {
    job.work();
    if (auto p = caf::actor_cast<caf::actor>(pool)) self->send(p, caf::ok_atom_v);
  }};
}

void dispatch(pool_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queued.empty()) {
    auto worker = st.idle.back();
    st.idle.pop_back();
    auto [job, rp] = std::move(st.queued.front());
    st.queued.pop_front();
    rp.delegate(worker, std::move(job));
  }
}

caf::behavior blocking_pool(pool_ptr self, std::size_t workers, bool detached) {
  for (std::size_t i = 0; i < workers; ++i) {
    auto worker = detached
                      ? self->spawn<caf::detached + caf::linked>(blocking_worker, self->address())
                      : self->spawn<caf::linked>(blocking_worker, self->address());
    self->state.idle.push_back(worker);
  }
  return {
      [self](msg::blocking_job& job) -> caf::result<void> {
        auto rp = self->make_response_promise();
        self->state.queued.emplace_back(std::move(job), rp);
        dispatch(self);
        return rp;
      },
      [self](caf::ok_atom) {  // a worker is free again
        self->state.idle.push_back(caf::actor_cast<caf::actor>(self->current_sender()));
        dispatch(self);
      },
  };
}

}  // namespace

std::string self_error_text(const caf::error& error) {
  return message_of(error);
}

caf::actor spawn_blocking_pool(caf::actor_system& sys, std::size_t workers, bool detached) {
  return sys.spawn(blocking_pool, workers, detached);
}

}  // namespace nomad_iis
