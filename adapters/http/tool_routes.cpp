// GET .../screenshot and .../procdump: the task's actor takes the picture or
// the dump (actors/task_inspect.hpp); this file checks the parameters, names
// the attachment and moves the bytes (a dump streams like a download).

#include <string>
#include <utility>

#include "adapters/http/disposition.hpp"
#include "adapters/http/request_actor.hpp"
#include "iis/inspect/screenshot.hpp"
#include "messages/inspect.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::http {
namespace {

std::string attachment_name(const request_state& st, const std::string& kind,
                            const std::string& extension) {
  return kind + "_" + st.task.summary.alloc_id + "_" + st.task.summary.task_name + "_" +
         timestamp_now() + extension;
}

}  // namespace

void serve_screenshot(request_actor* self) {
  const auto& st = self->state;
  msg::take_screenshot shot;
  shot.path = inspect::screenshot_path(query_value(st, "path", "/"));
  shot.width = query_int(st, "width", 1280, 64, 4096);
  shot.height = query_int(st, "height", 720, 64, 4096);
  ask_task<msg::screenshot_taken>(self, std::move(shot), [self](msg::screenshot_taken& png) {
    response r;
    r.content_type = "image/png";
    r.headers.emplace_back("Content-Disposition",
                           content_disposition(attachment_name(self->state, "screenshot", ".png")));
    r.body = std::move(png.png);
    answer(self, std::move(r));
  });
}

void serve_procdump(request_actor* self) {
  ask_task<msg::download_started>(
      self, msg::take_dump{query_value(self->state, "appPoolName", "default")},
      [self](msg::download_started& d) {
        d.filename = attachment_name(self->state, "procdump", ".core");
        stream_download(self, d);
      });
}

}  // namespace nomad_iis::http
