#include "adapters/grpc/exec_calls.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/timeouts.hpp"
#include "adapters/grpc/status.hpp"
#include "adapters/grpc/stream_writer.hpp"
#include "adapters/grpc/unary_call.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::grpc_adapter {
namespace {

using stream_request = drivers::ExecTaskStreamingRequest;
using stream_response = drivers::ExecTaskStreamingResponse;
using bidi_reactor = grpc::ServerBidiReactor<stream_request, stream_response>;
using exec_channel = stream_channel<stream_response, bidi_reactor>;

/// A unary ExecTask keeps at most this much of each stream (script checks
/// show a few lines).
constexpr std::size_t unary_output_limit = 1024 * 1024;

caf::duration open_timeout() {
  return caf::duration{timeouts::lifecycle};
}

stream_response exited_response(const msg::exec_exited& ended) {
  stream_response response;
  response.set_exited(true);
  response.mutable_result()->set_exit_code(ended.exit_code);
  response.mutable_result()->set_signal(ended.signal);
  return response;
}

/// Input credit on the reactor's side: it reads the client's next frame only
/// while fewer than msg::exec_input_credit of its input chunks wait for the
/// command's pipe; the rest waits in HTTP/2's flow control, at the client.
/// A read is started only while the stream is not finishing, so it comes
/// before the Finish that leads to OnDone (and the reactor's delete).
class read_gate {
 public:
  read_gate(bidi_reactor* reactor, stream_request* request, std::shared_ptr<exec_channel> channel)
      : reactor_(reactor), request_(request), channel_(std::move(channel)) {}

  /// An input chunk is about to go to the session: counted first, so its
  /// acknowledgement cannot come before.
  void counting_input() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++unacknowledged_;
  }

  /// After it went: whether to read on now; if not, the acknowledgement that
  /// frees credit starts the next read.
  bool read_on() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (unacknowledged_ < msg::exec_input_credit) return true;
    paused_ = true;
    return false;
  }

  /// The session's exec_input_ack (on the bridge's thread).
  void acknowledged(std::uint32_t inputs) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      unacknowledged_ -= std::min(inputs, unacknowledged_);
      if (!paused_ || unacknowledged_ >= msg::exec_input_credit) return;
      paused_ = false;  // no read is outstanding while paused: this is the only one
    }
    channel_->unless_finishing([this] { reactor_->StartRead(request_); });
  }

 private:
  bidi_reactor* const reactor_;
  stream_request* const request_;
  const std::shared_ptr<exec_channel> channel_;
  std::mutex mutex_;
  std::uint32_t unacknowledged_ = 0;
  bool paused_ = false;
};

/// Relays one streaming session: input and sizes from the reactor go to the
/// session (held back until it exists), output goes to the channel, and
/// each completed write goes back to the session as its credit (exec_ack).
struct stream_bridge_state {
  caf::actor session;
  /// Input and sizes that came before the session, sent once it is there.
  std::vector<std::function<void(const caf::actor&)>> held;
};

caf::behavior stream_bridge(caf::stateful_actor<stream_bridge_state>* self,
                            std::shared_ptr<exec_channel> channel, std::shared_ptr<read_gate> gate,
                            caf::actor supervisor) {
  auto relay = [self](auto m) {
    auto send = [self, m](const caf::actor& session) { self->send(session, m); };
    if (self->state.session)
      send(self->state.session);
    else
      self->state.held.push_back(std::move(send));
  };
  return {
      [=](msg::exec_open& open) {
        open.client = caf::actor_cast<caf::actor>(self);
        self->request(supervisor, open_timeout(), std::move(open))
            .then(
                [self](msg::exec_opened& opened) {
                  self->state.session = opened.session;
                  for (auto& send : self->state.held) send(opened.session);
                  self->state.held.clear();
                },
                [self, channel](caf::error& err) {
                  channel->finish(to_status(err));
                  self->quit();
                });
      },
      [relay](msg::exec_input& m) { relay(std::move(m)); },
      [relay](msg::exec_resize& m) { relay(m); },
      [self, channel](msg::exec_output& out) {
        if (!self->state.session)
          self->state.session = caf::actor_cast<caf::actor>(self->current_sender());
        stream_response response;
        auto* io = out.is_stderr ? response.mutable_stderr() : response.mutable_stdout();
        io->set_data(std::move(out.bytes));
        channel->post(std::move(response));
      },
      [self](msg::exec_ack ack) {
        if (self->state.session) self->send(self->state.session, ack);
      },
      [gate](msg::exec_input_ack ack) { gate->acknowledged(ack.inputs); },
      [self, channel](const msg::exec_exited& ended) {
        // Each stream closes, then the result: what Nomad's executor sends.
        stream_response closed_out;
        closed_out.mutable_stdout()->set_close(true);
        channel->post(std::move(closed_out));
        stream_response closed_err;
        closed_err.mutable_stderr()->set_close(true);
        channel->post(std::move(closed_err));
        channel->post(exited_response(ended));
        channel->finish(grpc::Status::OK, true);  // after the frames above
        self->quit();
      },
  };
}

/// The reactor gRPC sees for one ExecTaskStreaming call; it deletes itself
/// in OnDone. The first request must carry the setup; later ones carry
/// input, a terminal size, or nothing (a heartbeat).
class exec_stream final : public bidi_reactor {
 public:
  exec_stream(caf::actor_system& sys, const caf::actor& supervisor)
      // Unbounded, yet never long: the session's credit bounds the output.
      : channel_(std::make_shared<exec_channel>(this, std::numeric_limits<std::size_t>::max())),
        gate_(std::make_shared<read_gate>(this, &request_, channel_)) {
    bridge_ = sys.spawn(stream_bridge, channel_, gate_, supervisor);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the client sends no more; its output still goes out
    if (!set_up_) {
      if (!request_.has_setup() || request_.setup().command().empty()) {
        channel_->finish({grpc::StatusCode::INVALID_ARGUMENT,
                          "ExecTaskStreaming needs a setup with a command first"});
        return;
      }
      set_up_ = true;
      const auto& setup = request_.setup();
      caf::anon_send(bridge_, msg::exec_open{setup.task_id(),
                                             {setup.command().begin(), setup.command().end()},
                                             setup.tty(),
                                             caf::actor{}});
    }
    if (request_.has_tty_size()) {
      caf::anon_send(bridge_,
                     msg::exec_resize{request_.tty_size().height(), request_.tty_size().width()});
    }
    if (request_.has_stdin()) {
      gate_->counting_input();
      caf::anon_send(bridge_, msg::exec_input{request_.stdin().data(), request_.stdin().close()});
      // Nothing after this: once paused, an acknowledgement may start the next read.
      if (!gate_->read_on()) return;
    }
    if (!channel_->finishing()) StartRead(&request_);
  }

  /// One frame is out: the session may read one more chunk of output.
  void OnWriteDone(bool ok) override {
    caf::anon_send(bridge_, msg::exec_ack{});
    channel_->write_done(ok);
  }

  void OnCancel() override {
    caf::anon_send_exit(bridge_, caf::exit_reason::user_shutdown);
    channel_->finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    caf::anon_send_exit(bridge_, caf::exit_reason::user_shutdown);
    delete this;
  }

 private:
  std::shared_ptr<exec_channel> channel_;
  stream_request request_;  ///< before gate_, which points at it
  std::shared_ptr<read_gate> gate_;
  caf::actor bridge_;
  bool set_up_ = false;  ///< OnReadDone's own: reads never overlap
};

/// Appends `bytes` to `out` up to the unary limit.
void keep(std::string& out, const std::string& bytes) {
  if (out.size() < unary_output_limit)
    out.append(bytes, 0, std::min(bytes.size(), unary_output_limit - out.size()));
}

}  // namespace

bidi_reactor* exec_streaming(caf::actor_system& sys, const caf::actor& supervisor) {
  return new exec_stream(sys, supervisor);
}

grpc::ServerUnaryReactor* exec_unary(caf::actor_system& sys, const caf::actor& supervisor,
                                     const drivers::ExecTaskRequest& request,
                                     drivers::ExecTaskResponse* response) {
  msg::exec_open open{
      request.task_id(), {request.command().begin(), request.command().end()}, false, caf::actor{}};
  const auto limit = std::chrono::seconds(request.timeout().seconds()) +
                     std::chrono::nanoseconds(request.timeout().nanos());
  return new unary_call([&](std::shared_ptr<call_finisher> call) {
    return sys.spawn([call, supervisor, open = std::move(open), limit,
                      response](caf::event_based_actor* self) mutable -> caf::behavior {
      auto out = std::make_shared<std::string>();
      auto err = std::make_shared<std::string>();
      open.client = caf::actor_cast<caf::actor>(self);
      self->request(supervisor, open_timeout(), std::move(open))
          .then(
              [self](msg::exec_opened& opened) {
                self->send(opened.session, msg::exec_input{{}, true});  // no input
              },
              [self, call](caf::error& error) {
                call->finish_open(to_status(error));
                self->quit();
              });
      if (limit.count() > 0) {  // 0: no limit
        self->delayed_send(self, std::chrono::duration_cast<caf::timespan>(limit), atom::tick_v,
                           std::uint64_t{0});
      }
      return {
          [self, out, err](msg::exec_output& m) {
            keep(m.is_stderr ? *err : *out, m.bytes);
            self->send(caf::actor_cast<caf::actor>(self->current_sender()), msg::exec_ack{});
          },
          [](msg::exec_input_ack) {},  // its one input, the end, was taken
          [self, call, out, err, response](const msg::exec_exited& ended) {
            answer(*call, [&] {
              response->set_stdout(*out);
              response->set_stderr(*err);
              response->mutable_result()->set_exit_code(ended.exit_code);
              response->mutable_result()->set_signal(ended.signal);
              return grpc::Status::OK;
            });
            self->quit();
          },
          [self, call](atom::tick, std::uint64_t) {
            // The session sees us go and kills the command.
            call->finish_open({grpc::StatusCode::DEADLINE_EXCEEDED,
                               "exec: the command ran past its timeout and was killed"});
            self->quit();
          },
      };
    });
  });
}

}  // namespace nomad_iis::grpc_adapter
