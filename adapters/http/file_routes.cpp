// GET, PUT, PATCH and DELETE below .../fs/: the file work runs on blocking
// workers in steps, the task is held (begin_change ... end_change) only
// around the swap, and the body streams in and out in blocks without a
// thread waiting for the client.

#include <algorithm>
#include <memory>
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
#include "adapters/http/worker_steps.hpp"
#include "iis/files/transfer.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::http {
namespace {

using files::delete_job;
using files::download_job;
using files::upload_job;

/// The most of a body read per message round.
constexpr std::size_t block_size = 1 << 20;

std::string upload_json(const files::upload_outcome& r) {
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

/// Releases what `job` staged on a worker, then answers the failure `e`.
template <class Job>
void fail_job(request_actor* self, const std::shared_ptr<Job>& job, std::exception_ptr e) {
  release_on_worker(self, [job] { job->release(); });
  answer_failure(self, std::move(e));
}

/// on_worker for a step of `job`: a step that fails leaves nothing staged.
template <class T, class Job, class Work, class Then>
void job_step(request_actor* self, std::shared_ptr<Job> job, Work work, Then then) {
  off_thread<T>(self, self->state.ctx->workers, std::move(work),
                [self, job, then = std::move(then)](job_result<T> r) mutable {
                  if (!r.ok()) return fail_job(self, job, thrown_by(r));
                  guarded(self, [&] { then(std::move(*r.value)); });
                });
}

/// Holds the task for `job`'s change, runs `work` on a worker, releases the
/// task, then `done` with the pools the hold stopped. The task's other
/// operations wait meanwhile; a refused hold or a failed `work` leaves
/// nothing staged.
template <class Job, class Work, class Done>
void under_lease(request_actor* self, std::shared_ptr<Job> job, bool stop_pools, Work work,
                 Done done) {
  auto task = self->state.task.task;
  self->request(task, timeouts::lifecycle, msg::begin_change{job->lease_path(), stop_pools})
      .then(
          [self, task, job, work = std::move(work),
           done = std::move(done)](msg::change_ticket& ticket) mutable {
            auto release = [self, task, id = ticket.id](std::function<void()> next) {
              self->request(task, timeouts::lifecycle, msg::end_change{id})
                  .then([self, next] { guarded(self, next); },
                        [self](caf::error& err) { answer_error(self, err); });
            };
            off_thread<caf::unit_t>(
                self, self->state.ctx->workers, std::move(work),
                [self, job, release, done = std::move(done),
                 stopped = std::move(ticket.stopped_pools)](job_result<caf::unit_t> r) mutable {
                  if (!r.ok()) {  // released before answering, so the pools come back
                    return release(
                        [self, job, thrown = thrown_by(r)] { fail_job(self, job, thrown); });
                  }
                  release([done = std::move(done), stopped = std::move(stopped)]() mutable {
                    done(std::move(stopped));
                  });
                });
          },
          [self, job](caf::error& err) {
            release_on_worker(self, [job] { job->release(); });
            answer_error(self, err);
          });
}

/// Removes what the change moved aside (the replaced tree) on a worker,
/// then answers: when the client hears "done", the old content is gone.
template <class Job>
void answer_after_release(request_actor* self, std::shared_ptr<Job> job, std::string body) {
  off_thread<caf::unit_t>(
      self, self->state.ctx->workers, [job] { job->release(); },
      [self, body = std::move(body)](job_result<caf::unit_t>) mutable {
        answer_json(self, std::move(body));
      });
}

// ---- DELETE ----

void remove(request_actor* self, std::shared_ptr<delete_job> job) {
  job_step<caf::unit_t>(
      self, job, [job] { job->prepare(); },
      [self, job](caf::unit_t) {
        under_lease(
            self, job, false, [job] { job->apply(); },
            [self, job](std::vector<std::string>) { answer_after_release(self, job, "{}"); });
      });
}

// ---- GET ----

stream_head stream_head_of(const files::download_head& d) {
  stream_head h;
  h.content_type = d.is_zip ? "application/zip" : "application/octet-stream";
  h.headers.emplace_back("Content-Disposition", content_disposition(d.filename));
  h.length = d.length;
  return h;
}

void download(request_actor* self, std::shared_ptr<download_job> job) {
  on_worker<files::download_head>(
      self, [job] { return job->open(); },
      [self, job](files::download_head head) {
        stream_out(
            self, stream_head_of(head), [job](std::size_t max) { return job->next_block(max); },
            [job] { job->release(); });
      });
}

// ---- PUT / PATCH ----

void finish_upload(request_actor* self, std::shared_ptr<upload_job> job) {
  job_step<caf::unit_t>(
      self, job, [job] { job->finish(); },
      [self, job](caf::unit_t) {
        under_lease(
            self, job, job->stops_pools(), [job] { job->swap(); },
            [self, job](std::vector<std::string> stopped) {
              auto outcome = job->outcome();
              outcome.stopped_pools = std::move(stopped);
              answer_after_release(self, job, upload_json(outcome));
            });
      });
}

void pump_upload(request_actor* self, std::shared_ptr<upload_job> job) {
  self->state.on_body = [self, job](body_piece piece) {
    if (piece.failed) {  // cut or garbled: nothing was applied
      return fail_job(self, job,
                      std::make_exception_ptr(bad_request(
                          "upload_incomplete", "the upload ended before its body was complete")));
    }
    const bool end = piece.end;
    job_step<caf::unit_t>(
        self, job, [job, bytes = std::move(piece.bytes)] { job->write(bytes); },
        [self, job, end](caf::unit_t) {
          if (end) return finish_upload(self, job);
          pump_upload(self, job);
        });
  };
  auto me = caf::actor_cast<caf::actor>(self);
  self->state.ex->read_body(block_size,
                            [me](body_piece p) { caf::anon_send(me, body_arrived{std::move(p)}); });
}

void upload(request_actor* self, std::shared_ptr<upload_job> job) {
  job_step<caf::unit_t>(
      self, job, [job] { job->prepare(); }, [self, job](caf::unit_t) { pump_upload(self, job); });
}

/// PUT/PATCH as the request asks: 411/413 before a byte is received.
files::upload_options upload_options_of(const request_state& st,
                                        const config::driver_config& driver) {
  files::upload_options up;
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
  up.max_bytes = driver.upload_max_bytes;
  up.limits = {driver.zip_max_entries, driver.zip_max_uncompressed_bytes, driver.zip_max_ratio};
  if (!st.head.chunked && !st.head.content_length)
    throw http_error(411, "length_required", "send the body with a Content-Length or chunked");
  // As the API has always answered: a plain file needs its length.
  if (st.head.chunked && !up.is_zip)
    throw http_error(411, "length_required", "single-file uploads need a Content-Length");
  if (st.head.content_length) {
    up.content_length = *st.head.content_length;
    if (*up.content_length > up.max_bytes)
      throw http_error(413, "upload_too_large",
                       "the upload is larger than " + std::to_string(up.max_bytes) + " bytes");
  }
  return up;
}

/// What every file route needs: the task dir, as the task actor says.
files::file_target target_of(const request_state& st, const msg::site_status& site) {
  files::file_target t;
  t.task_dir = site.task_dir;
  t.secrets_dir = site.secrets_dir;
  t.allow_secrets = st.ctx->driver()->allow_secrets_access;
  t.path = decode_fs_path(st.route.fs_segments);
  return t;
}

}  // namespace

void serve_files(request_actor* self) {
  with_status(self, [self](msg::site_status site) {
    auto& st = self->state;
    auto target = target_of(st, site);
    switch (st.route.id) {
      case route_id::fs_delete:
        return remove(self, std::make_shared<delete_job>(std::move(target)));
      case route_id::fs_get: {
        auto name = st.task.summary.task_name;
        return download(self, std::make_shared<download_job>(std::move(target), name));
      }
      default:
        return upload(self, std::make_shared<upload_job>(std::move(target),
                                                         upload_options_of(st, *st.ctx->driver())));
    }
  });
}

}  // namespace nomad_iis::http
