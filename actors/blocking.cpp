#include "actors/blocking.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/error.hpp"

namespace nomad_iis {
namespace {

/// A job waiting for a worker; `gate` is released when it ends ("": none).
struct queued_job {
  msg::blocking_job job;
  caf::response_promise promise;
  std::string gate;
};

/// A gated job waiting for a slot of its gate.
struct waiting_job {
  msg::gated_job job;
  caf::response_promise promise;
  std::chrono::steady_clock::time_point refuse_at;
};

struct gate_state {
  std::int64_t in_use = 0;
  std::deque<waiting_job> waiting;
};

struct blocking_pool_state {
  std::vector<caf::actor> idle;
  std::deque<queued_job> queued;
  std::map<std::string, gate_state> gates;
  static inline const char* name = "blocking_pool";
};

using pool_ptr = caf::stateful_actor<blocking_pool_state>*;

caf::behavior blocking_worker() {
  return {[](msg::blocking_job& job) { job.work(); }};
}

void admit(pool_ptr self, const std::string& gate);

void dispatch(pool_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queued.empty()) {
    auto worker = st.idle.back();
    st.idle.pop_back();
    auto next = std::move(st.queued.front());
    st.queued.pop_front();
    auto finish = [self, worker, promise = next.promise,
                   gate = next.gate](std::optional<caf::error> error) mutable {
      if (error)
        promise.deliver(*error);
      else
        promise.deliver(caf::unit);
      self->state.idle.push_back(worker);
      if (!gate.empty()) {
        --self->state.gates[gate].in_use;
        admit(self, gate);
      }
      dispatch(self);
    };
    self->request(worker, caf::infinite, std::move(next.job))
        .then([finish]() mutable { finish(std::nullopt); },
              [finish](caf::error& error) mutable { finish(error); });
  }
}

/// Refuses the jobs of `gate` whose wait is over, then moves those that fit
/// under its limit to the workers' queue, in arrival order.
void admit(pool_ptr self, const std::string& gate) {
  auto& g = self->state.gates[gate];
  const auto now = std::chrono::steady_clock::now();
  auto expired = [&](waiting_job& w) {
    if (w.refuse_at > now) return false;
    w.promise.deliver(
        caf::make_error(ec::busy, "every " + gate + " slot stayed taken; try again later"));
    return true;
  };
  g.waiting.erase(std::remove_if(g.waiting.begin(), g.waiting.end(), expired), g.waiting.end());
  while (!g.waiting.empty() && g.in_use < std::max<std::int64_t>(1, g.waiting.front().job.limit)) {
    auto& front = g.waiting.front();
    ++g.in_use;
    self->state.queued.push_back({{std::move(front.job.work)}, front.promise, gate});
    g.waiting.pop_front();
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
        self->state.queued.push_back({std::move(job), rp, {}});
        dispatch(self);
        return rp;
      },
      [self](msg::gated_job& job) -> caf::result<void> {
        auto rp = self->make_response_promise();
        const auto gate = job.gate;
        const auto wait = job.max_wait;
        self->state.gates[gate].waiting.push_back(
            {std::move(job), rp, std::chrono::steady_clock::now() + wait});
        admit(self, gate);
        dispatch(self);
        if (!self->state.gates[gate].waiting.empty())
          self->delayed_send(self, wait, msg::gate_sweep{gate});
        return rp;
      },
      [self](msg::gate_sweep& m) {
        admit(self, m.gate);
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
