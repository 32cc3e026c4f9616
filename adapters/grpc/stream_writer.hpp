#pragma once
// One server-streaming call (Fingerprint, TaskEvents, TaskStats) fed by a
// bridge actor, in gRPC's route_guide style (one small reactor per stream):
// the actor posts messages, at most one write is in flight, later ones queue
// (bounded; the oldest are dropped). The reactor deletes itself in OnDone;
// the bridge holds only the shared channel, which drops whatever comes once
// the stream is finishing, so a late post never reaches a finished stream.

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <caf/actor.hpp>
#include <caf/send.hpp>

namespace nomad_iis::grpc_adapter {

/// What the bridge actor holds: post() and finish() are safe at any time.
/// `Reactor` is the stream's reactor: a server-streaming one, or a
/// bidirectional one (exec_stream.hpp) that writes the same way.
/// The mutex guards only the channel's own fields and is held while calling
/// into gRPC only by unless_finishing(), so a gRPC thread waits at most for a
/// few assignments or the start of one read.
template <class Response, class Reactor = grpc::ServerWriteReactor<Response>>
class stream_channel {
 public:
  stream_channel(Reactor* writer, std::size_t max_queued)
      : writer_(writer), max_queued_(max_queued) {}

  void post(Response message) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finishing_ || failed_) return;
      if (writing_) {
        if (queue_.size() >= max_queued_) queue_.pop_front();
        queue_.push_back(std::move(message));
        return;
      }
      current_ = std::move(message);
      writing_ = true;
    }
    writer_->StartWrite(&current_);
  }

  /// Ends the stream with `status`: at once, dropping what is queued, or with
  /// `drain` once the queued messages are written (exec's last frames).
  void finish(grpc::Status status, bool drain = false) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finishing_) return;
      finishing_ = true;
      if (!drain) queue_.clear();
      if (writing_) {
        pending_status_ = std::move(status);  // finished once the writes in flight complete
        return;
      }
    }
    writer_->Finish(std::move(status));
  }

  /// Runs `start` (a bidirectional stream's StartRead from outside gRPC's
  /// threads) unless finish() was called, under the lock, so it comes before
  /// the Finish. The one call into gRPC under the lock: gRPC never runs a
  /// reaction inside a Start call (reads and writes are not inlined).
  template <class Start>
  void unless_finishing(Start&& start) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!finishing_) start();
  }

  /// finish() was called: nothing more is taken.
  bool finishing() {
    std::lock_guard<std::mutex> lock(mutex_);
    return finishing_;
  }

  /// The reactor's OnWriteDone.
  void write_done(bool ok) {
    enum class step { none, write, finish } next = step::none;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      writing_ = false;
      if (!ok) {  // the client went away; OnCancel finishes the stream unless we are
        failed_ = true;
        queue_.clear();
      }
      if (!queue_.empty()) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        next = step::write;
      } else if (finishing_) {
        next = step::finish;
        status = std::move(pending_status_);
      }
    }
    if (next == step::write) writer_->StartWrite(&current_);
    if (next == step::finish) writer_->Finish(std::move(status));
  }

 private:
  /// Used only up to the one Finish: gRPC calls OnDone (which deletes the
  /// reactor) only after it and after the last write completed.
  Reactor* const writer_;
  const std::size_t max_queued_;
  std::mutex mutex_;
  std::deque<Response> queue_;
  Response current_;  ///< the write in flight; untouched until it completes
  bool writing_ = false;
  bool finishing_ = false;
  bool failed_ = false;
  grpc::Status pending_status_;
};

/// The reactor gRPC sees for one stream; it deletes itself in OnDone. The
/// bridge is spawned in the constructor, before gRPC has the reactor, so
/// OnCancel (which gRPC calls only after the method handler returned) always
/// finds it.
template <class Response>
class stream_writer final : public grpc::ServerWriteReactor<Response> {
 public:
  /// `spawn_bridge(channel)` spawns the actor that feeds the stream.
  template <class SpawnBridge>
  stream_writer(std::size_t max_queued, SpawnBridge&& spawn_bridge)
      : channel_(std::make_shared<stream_channel<Response>>(this, max_queued)) {
    bridge_ = spawn_bridge(channel_);
  }

  void OnWriteDone(bool ok) override { channel_->write_done(ok); }

  void OnCancel() override {
    caf::anon_send_exit(bridge_, caf::exit_reason::user_shutdown);
    channel_->finish(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

 private:
  std::shared_ptr<stream_channel<Response>> channel_;
  caf::actor bridge_;
};

}  // namespace nomad_iis::grpc_adapter
