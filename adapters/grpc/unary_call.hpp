#pragma once
// Bridges one unary gRPC call into the actors without blocking a gRPC
// thread, in gRPC's route_guide style (one small reactor per call): a
// short-lived bridge actor sends the request, and its reply fills the
// response and finishes the call. A cancelled call (the client went away,
// its deadline passed, the server stops) is finished at once and its bridge
// stops; a reply that still comes is dropped without touching the call's
// request or response, which gRPC frees once the call is done.

#include <atomic>
#include <exception>
#include <memory>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "adapters/grpc/status.hpp"

namespace nomad_iis::grpc_adapter {

/// The one decision of who finishes a call, shared by the reactor and the
/// bridge actor (which may outlive the call). Lock-free, so neither a gRPC
/// thread nor an actor ever waits for the other.
class call_finisher {
 public:
  explicit call_finisher(grpc::ServerUnaryReactor* reactor) : reactor_(reactor) {}

  /// Takes the call for a reply: true while it is open, and then nobody
  /// else finishes it, so request and response stay alive until
  /// finish_claimed(). False once it was cancelled or finished.
  bool claim() { return advance(open, claimed); }

  /// Finishes a call that claim() gave us.
  void finish_claimed(grpc::Status status) {
    phase_.store(finished, std::memory_order_release);
    reactor_->Finish(std::move(status));
  }

  /// Finishes the call unless a reply claimed it or it finished already.
  void finish_open(grpc::Status status) {
    if (advance(open, finished)) reactor_->Finish(std::move(status));
  }

 private:
  enum phase : int { open, claimed, finished };

  bool advance(int from, int to) {
    return phase_.compare_exchange_strong(from, to, std::memory_order_acq_rel);
  }

  /// Used only up to the one Finish: gRPC calls OnDone (which deletes the
  /// reactor) only after it.
  grpc::ServerUnaryReactor* const reactor_;
  std::atomic<int> phase_{open};
};

/// The reactor gRPC sees for one call; it deletes itself in OnDone. The
/// bridge is spawned in the constructor, before gRPC has the reactor, so
/// OnCancel (which gRPC calls only after the method handler returned) always
/// finds it.
class unary_call final : public grpc::ServerUnaryReactor {
 public:
  /// `spawn_bridge(finisher)` spawns the actor that answers the call.
  template <class SpawnBridge>
  explicit unary_call(SpawnBridge&& spawn_bridge)
      : finisher_(std::make_shared<call_finisher>(this)) {
    bridge_ = spawn_bridge(finisher_);
  }

  void OnCancel() override {
    caf::anon_send_exit(bridge_, caf::exit_reason::user_shutdown);
    finisher_->finish_open(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<call_finisher> finisher_;
  caf::actor bridge_;
};

/// Runs `fill` (which writes the response) on a claimed call and finishes
/// it; a claimed call must always be finished, even if `fill` throws.
template <class Fill>
void answer(call_finisher& call, Fill&& fill) {
  if (!call.claim()) return;  // cancelled: request and response may be gone
  grpc::Status status;
  try {
    status = fill();
  } catch (const std::exception& e) {
    status = {grpc::StatusCode::INTERNAL, e.what()};
  }
  call.finish_claimed(std::move(status));
}

/// Sends `request` to `target` and finishes the call: on a reply `on_reply`
/// fills the response (it may return a non-OK status), on an error the
/// error's status. `timeout` may be caf::infinite.
template <class Reply, class Request, class OnReply>
grpc::ServerUnaryReactor* ask(caf::actor_system& sys, const caf::actor& target, Request request,
                              caf::duration timeout, OnReply on_reply) {
  return new unary_call([&](std::shared_ptr<call_finisher> call) {
    return sys.spawn([call, target, request = std::move(request), timeout,
                      on_reply = std::move(on_reply)](caf::event_based_actor* self) mutable {
      self->request(target, timeout, std::move(request))
          .then([call, on_reply](
                    Reply& reply) mutable { answer(*call, [&] { return on_reply(reply); }); },
                [call](caf::error& err) { call->finish_open(to_status(err)); });
    });
  });
}

/// For requests whose reply carries nothing.
template <class Request, class OnDone>
grpc::ServerUnaryReactor* ask_void(caf::actor_system& sys, const caf::actor& target,
                                   Request request, caf::duration timeout, OnDone on_done) {
  return new unary_call([&](std::shared_ptr<call_finisher> call) {
    return sys.spawn([call, target, request = std::move(request), timeout,
                      on_done = std::move(on_done)](caf::event_based_actor* self) mutable {
      self->request(target, timeout, std::move(request))
          .then([call, on_done]() mutable { answer(*call, on_done); },
                [call](caf::error& err) { call->finish_open(to_status(err)); });
    });
  });
}

/// A call answered without asking an actor.
inline grpc::ServerUnaryReactor* finish_now(grpc::CallbackServerContext* ctx, grpc::Status status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

}  // namespace nomad_iis::grpc_adapter
