#pragma once
// `nomad alloc exec` in a task: the context a command runs in (one of the
// task's application pools: its Unix user, its environment, the task dir)
// and the running command the launcher starts for it.

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

/// One running exec'd command. write(), close_input(), resize() and cancel()
/// are safe from any thread and never block: pump() carries them out.
class exec_process {
 public:
  using output_fn = std::function<void(exec_stream, std::string)>;
  virtual ~exec_process() = default;

  /// Moves input in and output to `on_output` until the command has ended
  /// and its output is read, or until cancel(); then kills its process group
  /// and says how it ended. Blocks: run it on a worker of its own.
  virtual exit_status pump(const output_fn& on_output) = 0;

  virtual void write(std::string bytes) = 0;
  /// End of input: the pipe closes, or a terminal reads end-of-file.
  virtual void close_input() = 0;
  /// The terminal's new size (TIOCSWINSZ); ignored without a terminal.
  virtual void resize(std::uint16_t rows, std::uint16_t cols) = 0;
  /// Ends pump() at once; the command is killed.
  virtual void cancel() = 0;
};

}  // namespace nomad_iis::iis
