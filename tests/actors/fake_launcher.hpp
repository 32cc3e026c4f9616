#pragma once
// The launcher port for the actor tests: processes are rows of a table with
// made-up PIDs, and nothing runs. The test decides what real processes would
// decide on their own: when an nginx master forks its workers, when a
// graceful stop is over, when an old worker has drained, which ports accept,
// when a request reaches an idle pool, and when something crashes. Every
// call of the port that changes something is recorded ("spawn nginx pool-0",
// "signal 1003 SIGQUIT").
//
// Single-threaded by design: the blocking workers run on CAF's test
// coordinator, so every call arrives on the test's thread, and the exit and
// readable callbacks (which only anon_send) run there too; `sched.run()`
// then delivers what they sent.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "iis/launcher.hpp"

namespace nomad_iis::test {

class fake_launcher final : public iis::launcher {
 public:
  enum class kind { front, pool, worker, app, keeper };

  struct process {
    iis::process_ref ref;
    kind what = kind::app;
    std::string label;        ///< "nginx front", "nginx pool-0", "worker", "app /bin/sh", "keeper"
    std::string instance;     ///< nginx masters: "front", "pool-0"
    std::int32_t parent = 0;  ///< workers: their master
    std::int32_t group = 0;   ///< process group: every spawn leads one, workers join their master's
    bool alive = true;
    bool stopped = false;        ///< SIGSTOP: a stopped master respawns nothing
    bool quitting = false;       ///< a graceful stop is held (hold_graceful)
    bool shutting_down = false;  ///< a worker of an old generation, draining
    int owed_generations = 0;    ///< masters: worker generations not forked yet
    iis::spawn_request request;
    iis::exit_status status;  ///< how it ended
  };

  // ---- how the world behaves; the test changes these at will ----

  /// nginx masters fork their workers as they start or reload; false: the
  /// test calls fork_workers().
  bool workers_at_once = true;
  std::size_t workers_per_master = 1;
  /// Old workers exit as soon as a reload forked the new ones; false: they
  /// stay "shutting down" until retire().
  bool retire_at_once = true;
  /// SIGQUIT, SIGTERM and SIGINT end a process at once; true: they are held
  /// until finish() (SIGKILL always ends it).
  bool hold_graceful = false;
  /// nginx replaces a worker that died while its master runs.
  bool respawn_workers = true;
  /// TCP ports that do not accept yet (everything else does), and whether none does.
  std::set<std::int32_t> closed_ports;
  bool tcp_closed = false;
  /// Unix socket names (relative to the data dir) that do not accept yet.
  std::set<std::string> closed_sockets;
  /// The next spawn whose label contains a key fails with its value.
  std::map<std::string, std::string> spawn_failures;
  /// Called with every process spawned (what the world looks like as it starts).
  std::function<void(const process&)> on_spawn;

  // ---- what happened ----

  std::vector<std::string> calls;
  /// CPU and memory reported by usage(); live processes not listed report zeros.
  std::map<std::int32_t, iis::process_usage> usage_by_pid;
  /// What private_bytes() reports; live processes not listed hold nothing.
  std::map<std::int32_t, std::uint64_t> private_by_pid;

  bool called(const std::string& call) const;
  /// Calls recorded since call number `from` (an earlier calls.size()).
  std::vector<std::string> calls_since(std::size_t from) const;
  std::size_t count_calls(const std::string& prefix) const;

  const process* find(std::int32_t pid) const;
  const process& at(std::int32_t pid) const;
  bool is_alive(std::int32_t pid) const;
  /// Every live process of a kind, in spawn order.
  std::vector<iis::process_ref> live(kind what) const;
  std::size_t live_count() const;
  /// Live fronts, pool masters, workers and applications (keepers aside:
  /// the actors stop those through their records, not through the port).
  std::size_t live_site_processes() const;
  /// The newest live nginx master of an instance ("front", "pool-0"); pid 0 if none.
  iis::process_ref master(const std::string& instance) const;
  /// Live workers of a master that are not shutting down.
  std::vector<iis::process_ref> current_workers(const iis::process_ref& master) const;
  /// Live workers of a master that are shutting down.
  std::vector<iis::process_ref> retiring_workers(const iis::process_ref& master) const;

  // ---- what the test makes happen ----

  /// The process exits with `status` (its exit callbacks run); an nginx
  /// master takes its workers along unless it was killed.
  void end(std::int32_t pid, iis::exit_status status);
  /// It exits with code `code` on its own.
  void exit(std::int32_t pid, int code = 0) { end(pid, iis::exit_status{true, code, 0}); }
  /// It is killed by `signal` from outside (a crash, the OOM killer, kill -9).
  void crash(std::int32_t pid, int signal = 11) { end(pid, iis::exit_status{true, 0, signal}); }
  /// A held graceful stop is over: it and its workers exit with code 0.
  void finish(std::int32_t pid);
  /// The master forks the worker generations it owes (after a start or a
  /// SIGHUP while workers_at_once is false); returns the new workers.
  std::vector<iis::process_ref> fork_workers(std::int32_t master);
  /// An old worker has drained and exits.
  void retire(std::int32_t pid) { exit(pid); }
  /// A connection arrives at the sockets whose names contain `name`
  /// ("pool-0", "app-1"): their readable watches fire (once, like EPOLLONESHOT).
  /// Returns how many fired.
  std::size_t fire_readable(const std::string& name);
  /// Names of the sockets watched for readability now.
  std::vector<std::string> readable_watches() const;

  // ---- iis::launcher ----

  iis::process_ref spawn(const iis::spawn_request& request) override;
  iis::process_ref start_keeper(int fd, const iis::keeper_spec& spec) override;
  /// Nothing runs here: refused (recorded as "start_exec <argv[0]>").
  std::shared_ptr<iis::exec_process> start_exec(const iis::exec_request& request) override;
  bool signal(const iis::process_ref& process, int signal) override;
  bool alive(const iis::process_ref& process) override;
  std::vector<iis::process_ref> children(const iis::process_ref& parent) override;
  std::vector<iis::process_ref> group_members(const iis::process_ref& leader,
                                              const std::string& cwd) override;
  bool shutting_down(const iis::process_ref& worker) override;
  std::optional<iis::process_usage> usage(const iis::process_ref& process) override;
  std::optional<std::uint64_t> private_bytes(const iis::process_ref& process) override;
  bool accepts_tcp(const std::string& ip, std::int32_t port) override;
  bool accepts_unix(const std::string& dir, const std::string& name) override;
  std::uint64_t watch_exit(const iis::process_ref& process,
                           std::function<void(iis::exit_status)> on_exit) override;
  std::uint64_t watch_readable(int fd, std::function<void()> on_ready) override;
  void unwatch(std::uint64_t id) override;

 private:
  struct exit_watch {
    iis::process_ref process;
    std::function<void(iis::exit_status)> on_exit;
  };
  struct readable_watch {
    std::string name;
    std::function<void()> on_ready;
  };

  process* live_entry(const iis::process_ref& ref);
  iis::process_ref add(process entry);
  void fork_generation(process& master);
  /// Marks it gone and runs its exit callbacks.
  void bury(std::int32_t pid, iis::exit_status status);

  std::map<std::int32_t, process> table_;
  std::map<std::uint64_t, exit_watch> exit_watches_;
  std::map<std::uint64_t, readable_watch> readable_watches_;
  std::int32_t next_pid_ = 1001;
  std::uint64_t next_watch_ = 1;
};

/// The nginx instance a spawn request runs ("front", "pool-0"): its `-c` config's name.
std::optional<std::string> nginx_instance(const iis::spawn_request& request);

/// The call the log records for a signal: "signal 1003 SIGQUIT".
std::string signalled(const iis::process_ref& process, const std::string& signal);

/// "SIGKILL" for 9, "signal 42" for what it does not know.
std::string signal_name(int signal);

}  // namespace nomad_iis::test
