#include "actors/exec_session.hpp"

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

/// Pumps the command on a worker of its own; its end goes to the client.
void pump(exec_session_ptr self) {
  auto& st = self->state;
  st.pump_worker = spawn_blocking_pool(self->system(), 1, true);
  off_thread<iis::exit_status>(
      self, st.pump_worker,
      [process = st.process, client = st.client] {
        // Sent from the worker at once, so every output message is in the
        // client's mailbox before exec_exited.
        return process->pump([&client](iis::exec_stream stream, std::string bytes) {
          caf::anon_send(client,
                         msg::exec_output{stream == iis::exec_stream::err, std::move(bytes)});
        });
      },
      [self](job_result<iis::exit_status> ended) {
        const auto status = ended.value.value_or(iis::exit_status{});
        // 128 + signal, as a shell and Nomad's executor report a killed command.
        const int code = status.signal != 0 ? 128 + status.signal : status.code;
        self->send(self->state.client, msg::exec_exited{code, status.signal});
        self->quit();
      });
}

}  // namespace

caf::behavior exec_session(exec_session_ptr self, std::shared_ptr<iis::launcher> launcher,
                           caf::actor workers, caf::actor task, caf::actor client,
                           iis::exec_request request) {
  self->state.client = client;
  self->monitor(client);
  self->monitor(task);
  self->set_down_handler([self](const caf::down_msg&) { self->quit(); });
  return {
      [=](msg::exec_begin) -> caf::result<msg::exec_opened> {
        auto rp = self->make_response_promise<msg::exec_opened>();
        off_thread<std::shared_ptr<iis::exec_process>>(
            self, workers, [launcher, request] { return launcher->start_exec(request); },
            [self, rp](job_result<std::shared_ptr<iis::exec_process>> started) mutable {
              if (!started.ok()) {
                rp.deliver(to_error(started.error));
                self->quit();
                return;
              }
              self->state.process = std::move(*started.value);
              rp.deliver(msg::exec_opened{caf::actor_cast<caf::actor>(self)});
              pump(self);
            });
        return rp;
      },
      [self](msg::exec_input& m) {
        auto& process = self->state.process;
        if (!process) return;
        if (!m.bytes.empty()) process->write(std::move(m.bytes));
        if (m.close) process->close_input();
      },
      [self](const msg::exec_resize& m) {
        if (self->state.process && m.rows > 0 && m.cols > 0)
          self->state.process->resize(static_cast<std::uint16_t>(m.rows),
                                      static_cast<std::uint16_t>(m.cols));
      },
  };
}

}  // namespace nomad_iis
