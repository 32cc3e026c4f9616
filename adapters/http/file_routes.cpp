// GET, PUT, PATCH and DELETE below .../fs/: the task's actor does the file
// work (actors/task_files.hpp) in its order of operations; this file only
// turns the request into its messages and moves the bytes: a body block by
// block (each answered once written; one more is read meanwhile), a
// download a block per message.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/timeouts.hpp"
#include "adapters/http/disposition.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/paths.hpp"
#include "adapters/http/request_actor.hpp"
#include "adapters/http/stream_out.hpp"
#include "adapters/http/views.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::http {
namespace {

/// The most of a body read per message round.
constexpr std::size_t block_size = 1 << 20;

std::string upload_json(const msg::upload_done& r) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("bytesReceived");
  w.Uint64(r.bytes_received);
  w.Key("files");
  w.Uint64(r.files);
  w.Key("stoppedPools");
  w.StartArray();
  for (const auto& p : r.stopped_pools) w.String(p.c_str());
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

// ---- DELETE ----

void remove(request_actor* self, msg::file_target target) {
  tell_task(self, msg::delete_path{std::move(target)}, [self] { answer_json(self, "{}"); });
}

// ---- GET ----

stream_head stream_head_of(const msg::download_started& d) {
  stream_head h;
  h.content_type = d.is_zip ? "application/zip" : "application/octet-stream";
  h.headers.emplace_back("Content-Disposition", content_disposition(d.filename));
  if (d.has_length) h.length = d.length;
  return h;
}

void list(request_actor* self, msg::file_target target) {
  ask_task<msg::folder_listing>(
      self, msg::list_folder{std::move(target)},
      [self](msg::folder_listing& l) { answer_json(self, listing_json(l)); });
}

void download(request_actor* self, msg::file_target target) {
  ask_task<msg::download_started>(self, msg::download_begin{std::move(target)},
                                  [self](msg::download_started& d) { stream_download(self, d); });
}

// ---- PUT / PATCH ----

/// An upload's body on its way to the task: one block may be read from the
/// socket while the task writes the one before, so the read overlaps the
/// extraction and at most two blocks are held.
struct upload_pump {
  std::uint64_t id = 0;
  bool writing = false;               ///< the task writes a block now
  std::optional<body_piece> waiting;  ///< read meanwhile, sent next
};

void send_piece(request_actor* self, std::shared_ptr<upload_pump> pump, body_piece piece);

void read_piece(request_actor* self, std::shared_ptr<upload_pump> pump) {
  self->state.on_body = [self, pump](body_piece piece) {
    if (piece.failed)  // cut or garbled: nothing was applied; the task drops it when we end
      throw bad_request("upload_incomplete", "the upload ended before its body was complete");
    if (pump->writing) {
      pump->waiting = std::move(piece);
      return;
    }
    send_piece(self, pump, std::move(piece));
  };
  auto me = caf::actor_cast<caf::actor>(self);
  self->state.ex->read_body(block_size,
                            [me](body_piece p) { caf::anon_send(me, body_arrived{std::move(p)}); });
}

void end_upload(request_actor* self, std::uint64_t id) {
  ask_task<msg::upload_done>(self, msg::upload_end{id}, [self](msg::upload_done& done) {
    answer_json(self, upload_json(done));
  });
}

void send_piece(request_actor* self, std::shared_ptr<upload_pump> pump, body_piece piece) {
  const bool end = piece.end;
  if (!end) read_piece(self, pump);  // the next block arrives while this one is written
  if (piece.bytes.empty()) {
    if (end) end_upload(self, pump->id);
    return;
  }
  pump->writing = true;
  tell_task(self, msg::upload_block{pump->id, std::move(piece.bytes)}, [self, pump, end] {
    pump->writing = false;
    if (end) return end_upload(self, pump->id);
    if (!pump->waiting) return;
    auto next = std::move(*pump->waiting);
    pump->waiting.reset();
    send_piece(self, pump, std::move(next));
  });
}

/// Where the route works: the decoded path below the task dir.
msg::file_target target_of(const request_state& st) {
  return {decode_fs_path(st.route.fs_segments)};
}

/// PUT/PATCH as the request asks: 411 before a byte is received (413: the
/// task, whose limits they are).
msg::upload_begin upload_of(const request_state& st) {
  msg::upload_begin up;
  up.target = target_of(st);
  up.stop_pools = st.route.id == route_id::fs_put;
  up.clean = query_flag(st, "clean");
  auto type = st.head.content_type.substr(0, st.head.content_type.find(';'));
  type.erase(
      std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }),
      type.end());
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // "application-zip" is how nomad-iis's Management API document spells it.
  up.is_zip = type == "application/zip" || type == "application/x-zip-compressed" ||
              type == "application-zip";
  if (!st.head.chunked && !st.head.content_length)
    throw http_error(411, "length_required", "send the body with a Content-Length or chunked");
  // As the API has always answered: a plain file needs its length.
  if (st.head.chunked && !up.is_zip)
    throw http_error(411, "length_required", "single-file uploads need a Content-Length");
  if (st.head.content_length) {
    up.has_length = true;
    up.content_length = *st.head.content_length;
  }
  return up;
}

}  // namespace

void serve_files(request_actor* self) {
  const auto& st = self->state;
  switch (st.route.id) {
    case route_id::fs_delete:
      return remove(self, target_of(st));
    case route_id::fs_get:
      if (query_flag(st, "list")) return list(self, target_of(st));
      return download(self, target_of(st));
    default:
      ask_task<msg::transfer_id>(self, upload_of(st), [self](msg::transfer_id& t) {
        auto pump = std::make_shared<upload_pump>();
        pump->id = t.id;
        read_piece(self, pump);
      });
  }
}

// The task ends the transfer at its last block or when we are gone.
void stream_download(request_actor* self, const msg::download_started& d) {
  stream_out(self, stream_head_of(d),
             [self, id = d.id](std::size_t max, std::function<void(std::string)> got) {
               ask_task<msg::file_block>(
                   self, msg::download_next{id, max},
                   [got = std::move(got)](msg::file_block& b) { got(std::move(b.bytes)); });
             });
}

}  // namespace nomad_iis::http
