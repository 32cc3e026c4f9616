#include "actors/exec_session.hpp"

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

using state = exec_session_state;

/// What a watch calls (on the launcher's thread): a message to the session.
iis::exec_process::ready_fn ready(exec_session_ptr self, msg::exec_watch watch) {
  return [addr = self->address(), watch] {
    if (auto session = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(session, msg::exec_ready{watch});
  };
}

iis::exec_stream stream_of(msg::exec_watch watch) {
  return watch == msg::exec_watch::err ? iis::exec_stream::err : iis::exec_stream::out;
}

state::stream& stream_state(exec_session_ptr self, iis::exec_stream stream) {
  return stream == iis::exec_stream::err ? self->state.err : self->state.out;
}

/// The end, once the command has ended and its output is read: the client
/// gets how it ended (128 + signal, as a shell and Nomad's executor report a
/// killed command), and the session goes, which reaps the command.
void finish(exec_session_ptr self) {
  auto& st = self->state;
  const auto status = st.exited.value_or(iis::exit_status{});
  const int code = status.signal != 0 ? 128 + status.signal : status.code;
  if (st.client) self->send(st.client, msg::exec_exited{code, status.signal});
  self->quit();
}

/// One read of `stream`: its bytes go to the client (one credit); at its end,
/// or when it is empty after the command ended, it is closed.
bool read_turn(exec_session_ptr self, iis::exec_stream stream) {
  auto& st = self->state;
  auto& s = stream_state(self, stream);
  auto got = st.process->read(stream, msg::exec_output_chunk);
  if (!got.bytes.empty()) {
    ++st.in_flight;
    self->send(st.client, msg::exec_output{stream == iis::exec_stream::err, std::move(got.bytes)});
    return true;
  }
  if (got.ended || st.exited) s.open = false;
  return false;
}

/// Reads on while there is credit: by watches while the command runs, at
/// once after it ended (a watch still armed then may never fire: what it
/// left running may hold the pipe open). Finishes once both streams are done.
void pump_output(exec_session_ptr self) {
  auto& st = self->state;
  for (auto stream : {iis::exec_stream::out, iis::exec_stream::err}) {
    auto& s = stream_state(self, stream);
    if (!st.client) s.open = false;
    while (s.open && (st.exited || !s.armed) && st.in_flight < msg::exec_output_credit) {
      if (!st.exited) {
        s.armed = true;
        st.process->await_output(
            stream, ready(self, stream == iis::exec_stream::err ? msg::exec_watch::err
                                                                : msg::exec_watch::out));
        break;
      }
      if (!read_turn(self, stream)) break;
    }
  }
  if (st.exited && !st.out.open && !st.err.open) finish(self);
}

/// The pipe took everything queued: the client may send that many chunks more.
void acknowledge_input(exec_session_ptr self) {
  auto& st = self->state;
  if (st.inputs_taken == 0 || !st.client) return;
  self->send(st.client, msg::exec_input_ack{st.inputs_taken});
  st.inputs_taken = 0;
}

void on_ready(exec_session_ptr self, msg::exec_watch watch) {
  auto& st = self->state;
  if (!st.process) return;
  switch (watch) {
    case msg::exec_watch::out:
    case msg::exec_watch::err: {
      auto& s = stream_state(self, stream_of(watch));
      s.armed = false;
      if (st.client && s.open && st.in_flight < msg::exec_output_credit)
        read_turn(self, stream_of(watch));
      break;
    }
    case msg::exec_watch::input:
      st.input_armed = false;
      if (st.process->write({}, false)) {
        acknowledge_input(self);
      } else {
        st.input_armed = true;
        st.process->await_input(ready(self, msg::exec_watch::input));
      }
      return;
    case msg::exec_watch::exit:
      st.exited = st.process->exited();
      if (!st.exited) st.process->await_exit(ready(self, msg::exec_watch::exit));
      break;
  }
  pump_output(self);
}

void on_input(exec_session_ptr self, msg::exec_input& m) {
  auto& st = self->state;
  ++st.inputs_taken;
  if (!st.process || st.process->write(std::move(m.bytes), m.close)) {
    if (!st.input_armed) acknowledge_input(self);
  } else if (!st.input_armed) {
    st.input_armed = true;
    st.process->await_input(ready(self, msg::exec_watch::input));
  }
}

/// The command runs: its end and its output are watched from now on.
void started(exec_session_ptr self, std::shared_ptr<iis::exec_process> process) {
  auto& st = self->state;
  st.process = std::move(process);
  st.process->await_exit(ready(self, msg::exec_watch::exit));
  pump_output(self);
}

/// Killed; its end comes through the exit watch. Without a client nothing
/// more is read: the session goes as soon as the command has ended.
void kill(exec_session_ptr self, bool client_gone) {
  auto& st = self->state;
  if (client_gone) st.client = caf::actor{};
  if (!st.process) {
    self->quit();
    return;
  }
  st.process->kill();
}

}  // namespace

caf::behavior exec_session(exec_session_ptr self, std::shared_ptr<iis::launcher> launcher,
                           caf::actor workers, caf::actor task, caf::actor client,
                           iis::exec_request request) {
  self->state.client = client;
  self->state.task = task.address();
  self->monitor(client);
  self->monitor(task);
  self->set_down_handler(
      [self](const caf::down_msg& down) { kill(self, down.source != self->state.task); });
  return {
      [=](msg::exec_begin) -> caf::result<msg::exec_opened> {
        auto rp = self->make_response_promise<msg::exec_opened>();
        off_thread<std::shared_ptr<iis::exec_process>>(
            self, workers, [launcher, request] { return launcher->start_exec(request); },
            [self, rp](job_result<std::shared_ptr<iis::exec_process>> begun) mutable {
              if (!begun.ok()) {
                rp.deliver(to_error(begun.error));
                self->quit();
                return;
              }
              rp.deliver(msg::exec_opened{caf::actor_cast<caf::actor>(self)});
              started(self, std::move(*begun.value));
            });
        return rp;
      },
      [self](const msg::exec_ready& m) { on_ready(self, m.watch); },
      [self](msg::exec_ack) {
        if (self->state.in_flight > 0) --self->state.in_flight;
        if (self->state.process) pump_output(self);
      },
      [self](msg::exec_input& m) { on_input(self, m); },
      [self](const msg::exec_resize& m) {
        if (self->state.process && m.rows > 0 && m.cols > 0)
          self->state.process->resize(static_cast<std::uint16_t>(m.rows),
                                      static_cast<std::uint16_t>(m.cols));
      },
      [self](msg::exec_end) { kill(self, false); },
  };
}

}  // namespace nomad_iis
