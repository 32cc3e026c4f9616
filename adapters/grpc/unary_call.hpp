#pragma once
// Bridges one unary gRPC call into the actors without blocking a gRPC
// thread: a short-lived bridge actor sends the request and finishes the call
// when the reply (or an error) arrives. A cancelled call (WaitTask when the
// agent goes away) is finished at once and its bridge actor stops.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "adapters/grpc/status.hpp"

namespace nomad_iis::grpc_adapter {

/// Shared by the reactor (owned by gRPC) and the bridge actor, so whichever
/// finishes first wins and nobody touches a deleted reactor.
class call_state {
 public:
  explicit call_state(grpc::ServerUnaryReactor* reactor) : reactor_(reactor) {}

  /// Finishes the call once; later calls do nothing.
  void finish(grpc::Status status) {
    if (finished_.exchange(true)) return;
    reactor_->Finish(std::move(status));
  }
  bool finished() const { return finished_.load(); }

  caf::actor_addr bridge;

 private:
  grpc::ServerUnaryReactor* reactor_;
  std::atomic<bool> finished_{false};
};

/// The reactor gRPC sees; it deletes itself when gRPC is done with it.
class unary_reactor final : public grpc::ServerUnaryReactor {
 public:
  unary_reactor() : state_(std::make_shared<call_state>(this)) {}
  std::shared_ptr<call_state> state() const { return state_; }

  void OnCancel() override {
    if (auto bridge = caf::actor_cast<caf::actor>(state_->bridge))
      caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
    state_->finish(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<call_state> state_;
};

/// Sends `request` to `target` and finishes the call: on a reply `on_reply`
/// fills the response (it may return a non-OK status), on an error the
/// error's status. `timeout` may be caf::infinite.
template <class Reply, class Request, class OnReply>
grpc::ServerUnaryReactor* ask(caf::actor_system& sys, const caf::actor& target, Request request,
                              caf::duration timeout, OnReply on_reply) {
  auto* reactor = new unary_reactor();
  auto state = reactor->state();
  auto bridge = sys.spawn([state, target, request = std::move(request), timeout,
                           on_reply = std::move(on_reply)](caf::event_based_actor* self) mutable {
    self->request(target, timeout, std::move(request))
        .then([state, on_reply](Reply& reply) mutable { state->finish(on_reply(reply)); },
              [state](caf::error& err) { state->finish(to_status(err)); });
  });
  state->bridge = bridge.address();
  return reactor;
}

/// For requests whose reply carries nothing.
template <class Request, class OnDone>
grpc::ServerUnaryReactor* ask_void(caf::actor_system& sys, const caf::actor& target,
                                   Request request, caf::duration timeout, OnDone on_done) {
  auto* reactor = new unary_reactor();
  auto state = reactor->state();
  auto bridge = sys.spawn([state, target, request = std::move(request), timeout,
                           on_done = std::move(on_done)](caf::event_based_actor* self) mutable {
    self->request(target, timeout, std::move(request))
        .then([state, on_done]() mutable { state->finish(on_done()); },
              [state](caf::error& err) { state->finish(to_status(err)); });
  });
  state->bridge = bridge.address();
  return reactor;
}

/// A call answered without asking an actor.
inline grpc::ServerUnaryReactor* finish_now(grpc::CallbackServerContext* ctx, grpc::Status status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

}  // namespace nomad_iis::grpc_adapter
