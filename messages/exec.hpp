#pragma once
// Messages of `nomad alloc exec`: the adapter's bridge asks the supervisor
// to open a command in a task (exec_open); the task picks the pool whose
// context it runs in and starts an exec session, which answers exec_opened
// with itself. The bridge sends it input and terminal sizes; the session
// sends the bridge the output and, last, exec_exited. Output is credited:
// the bridge acknowledges each exec_output once written out (exec_ack) and
// the session keeps at most exec_output_credit unacknowledged, so a command
// that floods its output waits on a full pipe instead of filling memory.
// Input is credited the other way: the session acknowledges the input chunks
// the command's pipe has taken (exec_input_ack) and the reactor reads at
// most exec_input_credit chunks ahead, so a command that does not read its
// stdin holds the client back instead of filling memory.
// When the bridge goes away the command is killed; when its task stops or
// goes (exec_end) too, and the bridge gets exec_exited.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

namespace nomad_iis::msg {

struct exec_open {
  std::string task_id;
  std::vector<std::string> command;
  bool tty = false;
  caf::actor client;  ///< gets exec_output and exec_exited
};

struct exec_opened {
  caf::actor session;  ///< takes exec_input and exec_resize
};

/// The session's first message, from the task that spawned it.
struct exec_begin {};

struct exec_input {
  std::string bytes;
  bool close = false;  ///< end of input after `bytes`
};

struct exec_resize {
  std::int32_t rows = 0;
  std::int32_t cols = 0;
};

struct exec_output {
  bool is_stderr = false;
  std::string bytes;
};

/// The bridge wrote one exec_output out: the session may send one more.
struct exec_ack {};

/// exec_output a session sends before it waits for an exec_ack.
inline constexpr std::size_t exec_output_credit = 8;
/// The most one exec_output carries (a read of the command's pipe).
inline constexpr std::size_t exec_output_chunk = 64 * 1024;

/// The command's pipe took `inputs` more exec_input: the client may send as many more.
struct exec_input_ack {
  std::uint32_t inputs = 0;
};

/// exec_input a client sends before it waits for an exec_input_ack.
inline constexpr std::uint32_t exec_input_credit = 8;

/// From the task: its stop ends the command (killed; exec_exited follows).
struct exec_end {};

/// What a session's watch found (the command's output, input or end).
enum class exec_watch : std::uint8_t { out, err, input, exit };

/// A session's own message from the launcher's watch thread.
struct exec_ready {
  exec_watch watch = exec_watch::out;
};

struct exec_exited {
  std::int32_t exit_code = 0;
  std::int32_t signal = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_open& x) {
  return f(caf::meta::type_name("exec_open"), x.task_id, x.command, x.tty, x.client);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_opened& x) {
  return f(caf::meta::type_name("exec_opened"), x.session);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_begin&) {
  return f(caf::meta::type_name("exec_begin"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_input& x) {
  return f(caf::meta::type_name("exec_input"), x.bytes, x.close);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_resize& x) {
  return f(caf::meta::type_name("exec_resize"), x.rows, x.cols);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_output& x) {
  return f(caf::meta::type_name("exec_output"), x.is_stderr, x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_ack&) {
  return f(caf::meta::type_name("exec_ack"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_input_ack& x) {
  return f(caf::meta::type_name("exec_input_ack"), x.inputs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_end&) {
  return f(caf::meta::type_name("exec_end"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_ready& x) {
  return f(caf::meta::type_name("exec_ready"), x.watch);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_exited& x) {
  return f(caf::meta::type_name("exec_exited"), x.exit_code, x.signal);
}

}  // namespace nomad_iis::msg
