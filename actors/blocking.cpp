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
  /// The gate of the job each busy worker runs (none: not there).
  std::map<caf::actor_addr, std::string> gate_of;
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

void admit(pool_ptr self, const std::string& gate);

void dispatch(pool_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queued.empty()) {
    auto worker = st.idle.back();
    st.idle.pop_back();
    auto next = std::move(st.queued.front());
    st.queued.pop_front();
    if (!next.gate.empty()) st.gate_of[worker.address()] = next.gate;
    next.promise.delegate(worker, std::move(next.job));
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
    auto worker = detached
                      ? self->spawn<caf::detached + caf::linked>(blocking_worker, self->address())
                      : self->spawn<caf::linked>(blocking_worker, self->address());
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
      [self](caf::ok_atom) {  // a worker is free again (and its gate's slot)
        auto& st = self->state;
        auto worker = caf::actor_cast<caf::actor>(self->current_sender());
        st.idle.push_back(worker);
        if (auto it = st.gate_of.find(worker.address()); it != st.gate_of.end()) {
          --st.gates[it->second].in_use;
          const auto gate = std::move(it->second);
          st.gate_of.erase(it);
          admit(self, gate);
        }
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
