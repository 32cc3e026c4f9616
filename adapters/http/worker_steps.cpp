#include "adapters/http/worker_steps.hpp"

#include <memory>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "messages/type_ids.hpp"

namespace nomad_iis::http {
namespace {

/// Blocks of a streamed answer: big enough for few messages, small enough
/// for bounded memory per request.
constexpr std::size_t stream_block = 256 << 10;

struct stream_steps {
  block_source next;
  std::function<void()> release;
};

void end_of(request_actor* self, const std::shared_ptr<stream_steps>& steps) {
  release_on_worker(self, steps->release);
  self->quit();
}

/// After each finished write: the next block, or the end.
void written(request_actor* self, std::shared_ptr<stream_steps> steps, bool ok) {
  if (!ok) return end_of(self, steps);  // the client went away
  steps->next(stream_block, [self, steps](std::string block) {
    if (block.empty()) {
      self->state.ex->end_stream();
      return end_of(self, steps);
    }
    self->state.on_written = [self, steps](bool ok) { written(self, steps, ok); };
    auto me = caf::actor_cast<caf::actor>(self);
    self->state.ex->write_chunk(std::move(block),
                                [me](bool ok) { caf::anon_send(me, chunk_written{ok}); });
  });
}

}  // namespace

void stream_out(request_actor* self, stream_head head, block_source next,
                std::function<void()> release) {
  auto steps = std::make_shared<stream_steps>(stream_steps{std::move(next), std::move(release)});
  self->state.answered = true;
  count_request(self, head.status);
  self->state.on_written = [self, steps](bool ok) { written(self, steps, ok); };
  auto me = caf::actor_cast<caf::actor>(self);
  self->state.ex->start_stream(std::move(head),
                               [me](bool ok) { caf::anon_send(me, chunk_written{ok}); });
}

void release_on_worker(request_actor* self, std::function<void()> release) {
  if (!release) return;
  off_thread<caf::unit_t>(self, self->state.ctx->tools, std::move(release),
                          [](job_result<caf::unit_t>) {});
}

}  // namespace nomad_iis::http
