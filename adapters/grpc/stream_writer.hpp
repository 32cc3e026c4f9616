#pragma once
// One server-streaming call (Fingerprint, TaskEvents, TaskStats) fed by a
// bridge actor: the actor posts messages, at most one write is in flight,
// later ones queue (bounded; the oldest are dropped). The reactor deletes
// itself when gRPC is done; the shared channel makes late posts harmless.

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace nomad_iis::grpc_adapter {

template <class Response>
class stream_writer;

/// What the bridge actor holds: post() and finish() are safe at any time.
template <class Response>
class stream_channel {
 public:
  explicit stream_channel(std::size_t max_queued) : max_queued_(max_queued) {}

  void post(Response message) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (!writer_ || finishing_) return;
    if (writing_) {
      if (queue_.size() >= max_queued_) queue_.pop_front();
      queue_.push_back(std::move(message));
      return;
    }
    current_ = std::move(message);
    writing_ = true;
    writer_->StartWrite(&current_);
  }

  void finish(grpc::Status status) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (!writer_ || finishing_) return;
    finishing_ = true;
    queue_.clear();
    if (writing_) {
      pending_status_ = std::move(status);  // finished once the write in flight completes
      return;
    }
    writer_->Finish(std::move(status));
  }

  caf::actor_addr bridge;

 private:
  friend class stream_writer<Response>;

  void attach(stream_writer<Response>* writer) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    writer_ = writer;
  }

  void detach() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    writer_ = nullptr;
  }

  void write_done(bool ok) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    writing_ = false;
    if (!writer_) return;
    if (finishing_) {
      writer_->Finish(std::move(pending_status_));
      return;
    }
    if (!ok) {  // the client went away; OnCancel handles the rest
      queue_.clear();
      return;
    }
    if (queue_.empty()) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    writer_->StartWrite(&current_);
  }

  std::recursive_mutex mutex_;
  stream_writer<Response>* writer_ = nullptr;
  std::deque<Response> queue_;
  Response current_;
  bool writing_ = false;
  bool finishing_ = false;
  grpc::Status pending_status_;
  std::size_t max_queued_;
};

template <class Response>
class stream_writer final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit stream_writer(std::size_t max_queued)
      : channel_(std::make_shared<stream_channel<Response>>(max_queued)) {
    channel_->attach(this);
  }

  std::shared_ptr<stream_channel<Response>> channel() const { return channel_; }

  void OnWriteDone(bool ok) override { channel_->write_done(ok); }

  void OnCancel() override {
    if (auto bridge = caf::actor_cast<caf::actor>(channel_->bridge))
      caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
    channel_->finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    channel_->detach();
    delete this;
  }

 private:
  std::shared_ptr<stream_channel<Response>> channel_;
};

}  // namespace nomad_iis::grpc_adapter
