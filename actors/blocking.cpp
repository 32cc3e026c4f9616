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

caf::behavior blocking_worker() {
  return {[](msg::blocking_job& job) { job.work(); }};
}

void dispatch(pool_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queued.empty()) {
    auto worker = st.idle.back();
    st.idle.pop_back();
    auto [job, rp] = std::move(st.queued.front());
    st.queued.pop_front();
    auto finish = [self, worker](caf::response_promise promise,
                                 std::optional<caf::error> error) mutable {
      if (error)
        promise.deliver(*error);
      else
        promise.deliver(caf::unit);
      self->state.idle.push_back(worker);
      dispatch(self);
    };
    self->request(worker, caf::infinite, std::move(job))
        .then([finish, rp]() mutable { finish(rp, std::nullopt); },
              [finish, rp](caf::error& error) mutable { finish(rp, error); });
  }
}

caf::behavior blocking_pool(pool_ptr self, std::size_t workers, bool detached) {
  for (std::size_t i = 0; i < workers; ++i) {
    auto worker = detached ? self->spawn<caf::detached + caf::linked>(blocking_worker)
                           : self->spawn<caf::linked>(blocking_worker);
    self->state.idle.push_back(worker);
  }
  return {
      [self](msg::blocking_job& job) -> caf::result<void> {
        auto rp = self->make_response_promise();
        self->state.queued.emplace_back(std::move(job), rp);
        dispatch(self);
        return rp;
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
