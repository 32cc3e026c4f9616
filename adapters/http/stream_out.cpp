#include "adapters/http/stream_out.hpp"

#include <memory>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "messages/type_ids.hpp"

namespace nomad_iis::http {
namespace {

/// Blocks of a streamed answer: big enough for few messages, small enough
/// for bounded memory per request.
constexpr std::size_t stream_block = 256 << 10;

/// After each finished write: the next block, or the end.
void written(request_actor* self, std::shared_ptr<block_source> next, bool ok) {
  if (!ok) return self->quit();  // the client went away
  (*next)(stream_block, [self, next](std::string block) {
    if (block.empty()) {
      self->state.ex->end_stream();
      return self->quit();
    }
    self->state.on_written = [self, next](bool ok) { written(self, next, ok); };
    auto me = caf::actor_cast<caf::actor>(self);
    self->state.ex->write_chunk(std::move(block),
                                [me](bool ok) { caf::anon_send(me, chunk_written{ok}); });
  });
}

}  // namespace

void stream_out(request_actor* self, stream_head head, block_source next) {
  auto source = std::make_shared<block_source>(std::move(next));
  self->state.answered = true;
  count_request(self, head.status);
  self->state.on_written = [self, source](bool ok) { written(self, source, ok); };
  auto me = caf::actor_cast<caf::actor>(self);
  self->state.ex->start_stream(std::move(head),
                               [me](bool ok) { caf::anon_send(me, chunk_written{ok}); });
}

}  // namespace nomad_iis::http
