#pragma once
// `nomad alloc exec` in a task: the context a command runs in (one of the
// task's application pools: its Unix user, its environment, the task dir)
// and the running command the launcher starts for it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "iis/model.hpp"
#include "iis/process_types.hpp"

namespace nomad_iis::iis {

/// The task environment variable that names the pool exec'd commands run
/// as; without it they run as the task's first pool.
inline constexpr const char* exec_pool_variable = "NOMAD_IIS_EXEC_POOL";

/// What plan_exec decided; the launcher resolves the account and the
/// executable (file system lookups) when it starts the command.
struct exec_request {
  std::vector<std::string> command;        ///< argv as Nomad sent it
  std::string pool;                        ///< whose context it runs in
  std::optional<std::string> run_as_user;  ///< the pool's user, applied as root
  std::vector<std::string> env;            ///< "NAME=value": the pool's workers' environment
  std::string cwd;                         ///< the task dir
  bool tty = false;
  cgroup_dirs cgroup;  ///< the task's (none: not limited); the command joins its leaf "exec"
};

/// The request for `command` in `plan`'s site. Throws backend_error
/// (invalid_config) for an empty command or a pool name the site lacks.
exec_request plan_exec(const site_plan& plan, std::vector<std::string> command, bool tty);

enum class exec_stream : std::uint8_t { out, err };

/// What one read of a command's output found: some bytes, the stream's end,
/// or (neither) nothing yet.
struct exec_read {
  std::string bytes;
  bool ended = false;  ///< at its end (stderr on a terminal always is)
};

/// One running exec'd command, driven by one owner (its exec session) from
/// one thread at a time. Nothing here blocks: the descriptors are
/// non-blocking, and the await_* calls arm one-shot watches in the
/// launcher's one watch thread instead of waiting. `on_ready` runs there (or
/// at once on the caller's thread when there is nothing to wait for) and must
/// only send a message. Destroying it drops its watches and kills its process
/// group.
class exec_process {
 public:
  using ready_fn = std::function<void()>;
  virtual ~exec_process() = default;

  /// At most `max` bytes that `stream` holds now.
  virtual exec_read read(exec_stream stream, std::size_t max) = 0;
  /// Calls `on_ready` once read(stream) finds bytes or the end.
  virtual void await_output(exec_stream stream, ready_fn on_ready) = 0;

  /// Queues `bytes` for the command's input (and its end after them with
  /// `close`) and writes what it takes now. False while some stays queued:
  /// await_input(), then write({}, false) again.
  virtual bool write(std::string bytes, bool close) = 0;
  /// Calls `on_ready` once the input takes more (or its reader is gone).
  virtual void await_input(ready_fn on_ready) = 0;

  /// The terminal's new size (TIOCSWINSZ); ignored without a terminal.
  virtual void resize(std::uint16_t rows, std::uint16_t cols) = 0;

  /// How it ended, once it has; nullopt while it runs. It stays unreaped
  /// (its PID pinned to its group) until the object goes.
  virtual std::optional<exit_status> exited() = 0;
  /// Calls `on_ready` once it has ended.
  virtual void await_exit(ready_fn on_ready) = 0;

  /// SIGKILL to its process group; its end then comes as any other.
  virtual void kill() = 0;
};

}  // namespace nomad_iis::iis
