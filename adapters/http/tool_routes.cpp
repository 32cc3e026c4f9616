// GET .../screenshot and .../procdump: a browser or gcore runs on a blocking
// worker while the request actor waits for its message; requests past the
// concurrency limit wait in the pool's gate (actors/blocking.hpp), in order
// and without a thread.

#include <algorithm>
#include <memory>
#include <string>

#include "adapters/http/disposition.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/request_actor.hpp"
#include "adapters/http/worker_steps.hpp"
#include "iis/files/transfer.hpp"
#include "iis/inspect/procdump.hpp"
#include "iis/inspect/screenshot.hpp"

namespace nomad_iis::http {
namespace {

/// How long a request may wait for a free dump slot.
constexpr auto dump_queue_wait = std::chrono::seconds(60);
/// How long gcore may take.
constexpr auto dump_timeout = std::chrono::minutes(5);

std::string attachment_name(const request_state& st, const std::string& kind,
                            const std::string& extension) {
  return kind + "_" + st.task.summary.alloc_id + "_" + st.task.summary.task_name + "_" +
         timestamp_now() + extension;
}

inspect::screenshot_request screenshot_of(request_actor* self, const msg::site_status& site) {
  auto& st = self->state;
  if (site.http_url.empty()) throw not_found("the task has no http or https binding");
  auto driver = st.ctx->driver();
  inspect::screenshot_request shot;
  shot.chromium_path = driver->chromium_path;
  shot.base_url = site.http_url;
  shot.hostname = site.http_hostname;
  shot.path = inspect::screenshot_path(query_value(st, "path", "/"));
  shot.width = query_int(st, "width", 1280, 64, 4096);
  shot.height = query_int(st, "height", 720, 64, 4096);
  shot.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(driver->screenshot_timeout);
  try {
    if (st.ctx->browser_account) shot.user = st.ctx->browser_account();
  } catch (const std::exception& e) {
    throw http_error(503, "screenshots_unavailable",
                     std::string("no user to run the browser as: ") + e.what());
  }
  return shot;
}

/// Streams the dump file; its folder goes when the stream ends.
void send_dump(request_actor* self, std::shared_ptr<inspect::core_dump> dump) {
  using reader_ptr = std::shared_ptr<files::file_reader>;
  on_worker<reader_ptr>(
      self,
      [dump] {
        return std::make_shared<files::file_reader>(files::file_reader::open_own(dump->path));
      },
      [self, dump](reader_ptr reader) {
        stream_head head;
        head.content_type = "application/octet-stream";
        head.headers.emplace_back("Content-Disposition", content_disposition(attachment_name(
                                                             self->state, "procdump", ".core")));
        head.length = reader->size();
        auto held = std::make_shared<std::pair<reader_ptr, std::shared_ptr<inspect::core_dump>>>(
            reader, dump);
        auto release = [held] {
          held->first.reset();
          held->second.reset();
        };
        stream_out(
            self, std::move(head),
            [self, reader, release](std::size_t max, std::function<void(std::string)> got) {
              off_thread<std::string>(
                  self, self->state.ctx->tools, [reader, max] { return reader->next_block(max); },
                  [self, release, got = std::move(got)](job_result<std::string> block) {
                    if (block.ok()) return got(std::move(*block.value));
                    release_on_worker(self, release);  // the answer started: the cut tells
                    answer_failure(self, thrown_by(block));
                  });
            },
            release);
      });
}

}  // namespace

void serve_screenshot(request_actor* self) {
  with_status(self, [self](msg::site_status site) {
    auto shot = screenshot_of(self, site);
    const auto limit = self->state.ctx->driver()->screenshot_concurrency;
    off_thread_gated<std::string>(
        self, self->state.ctx->tools, "screenshot", limit, shot.timeout,
        [shot] { return inspect::take_screenshot(shot); },
        [self](job_result<std::string> png) {
          if (png.refused)
            return answer_failure(self, std::make_exception_ptr(http_error(
                                            503, "busy",
                                            "too many screenshots are being taken; try again "
                                            "later")));
          if (!png.ok()) return answer_failure(self, thrown_by(png));
          response r;
          r.content_type = "image/png";
          r.headers.emplace_back("Content-Disposition", content_disposition(attachment_name(
                                                            self->state, "screenshot", ".png")));
          r.body = std::move(*png.value);
          answer(self, std::move(r));
        });
  });
}

void serve_procdump(request_actor* self) {
  with_status(self, [self](msg::site_status site) {
    auto& st = self->state;
    auto name = query_value(st, "appPoolName", "default");
    auto it = std::find_if(site.pools.begin(), site.pools.end(),
                           [&](const msg::pool_info& p) { return p.name == name; });
    if (it == site.pools.end())
      throw bad_request("unknown_pool", "the task has no application pool \"" + name + "\"");
    if (it->worker_pids.empty())
      throw conflict("no_worker", "the pool \"" + name + "\" has no running worker process");
    const auto pid = it->worker_pids.front();
    auto driver = st.ctx->driver();
    using dump_ptr = std::shared_ptr<inspect::core_dump>;
    off_thread_gated<dump_ptr>(
        self, st.ctx->tools, "procdump", driver->procdump_concurrency, dump_queue_wait,
        [tool = driver->dump_tool_path(), pid] {
          return std::make_shared<inspect::core_dump>(
              inspect::dump_process(tool, pid, dump_timeout));
        },
        [self](job_result<dump_ptr> dump) {
          if (dump.refused)
            return answer_failure(
                self, std::make_exception_ptr(http_error(
                          503, "busy", "too many dumps are being taken; try again later")));
          if (!dump.ok()) return answer_failure(self, thrown_by(dump));
          send_dump(self, std::move(*dump.value));
        });
  });
}

}  // namespace nomad_iis::http
