#pragma once
// Helpers for the iis tests: a fake Nomad alloc dir whose stdout/stderr FIFOs
// are drained like logmon does, a tiny HTTP and TLS client, an observer that
// records what a site reports, and blocking wrappers for async operations.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/driver_config.hpp"
#include "config/task_config.hpp"
#include "iis/backend.hpp"
#include "iis/linux_backend.hpp"
#include "iis/model.hpp"
#include "iis/process.hpp"
#include "tests/iis/actor_site.hpp"

namespace nomad_iis::iis::test {

/// A fresh folder under /tmp (mode 0755 so pool users can traverse it),
/// removed with everything below it on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Drains a FIFO into a string, as Nomad's logmon does.
class fifo_reader {
 public:
  explicit fifo_reader(std::string path);
  ~fifo_reader();
  std::string text() const;

 private:
  void run();
  std::string path_;
  int fd_ = -1;
  int stop_fd_ = -1;
  mutable std::mutex mutex_;
  std::string text_;
  std::thread thread_;
};

/// <root>/alloc-<n> laid out like a Nomad alloc dir with one task "web".
class fake_alloc {
 public:
  explicit fake_alloc(const std::string& root, const std::string& task = "web");
  std::string alloc_dir;
  std::string task_name;
  std::string task_dir() const { return alloc_dir + "/" + task_name; }
  std::string stdout_path;
  std::string stderr_path;
  std::unique_ptr<fifo_reader> out;
  std::unique_ptr<fifo_reader> err;
  /// Writes `content` to `<task_dir>/<relative>`, creating folders.
  void write(const std::string& relative, const std::string& content) const;
};

/// A port nothing listens on right now (bind 127.0.0.1:0).
int free_port();

struct http_response {
  int status = 0;  ///< 0 = no response
  std::string headers;
  std::string body;
  bool closed_without_response = false;
  std::string error;
};

/// GET over a new connection with "Connection: close".
http_response http_get(const std::string& ip, int port, const std::string& path,
                       const std::string& host = "localhost", int timeout_ms = 5000);

/// POST of `body` (text/plain) over a new connection with "Connection: close".
http_response http_post(const std::string& ip, int port, const std::string& path,
                        const std::string& body, int timeout_ms = 5000);

struct tls_result {
  http_response response;
  std::vector<std::string> dns_names;  ///< subjectAltName DNS entries
  std::vector<std::string> ip_names;   ///< subjectAltName IP entries
  std::string error;
};

/// GET over TLS (no verification) with SNI `server_name`; reports the SANs.
tls_result https_get(const std::string& ip, int port, const std::string& path,
                     const std::string& server_name);

/// Clients on kept-alive connections, each sending GET `path` one after
/// another and opening a new connection only when the server ends one
/// (Connection: close). Every other client pauses 3 ms between requests,
/// so its connection is often idle: what an nginx that quits closes at once.
/// A request without a 200 counts as failed, and so does a connection
/// lost under a request.
class kept_alive_load {
 public:
  kept_alive_load(int port, std::string path, int clients);
  ~kept_alive_load();
  kept_alive_load(const kept_alive_load&) = delete;
  kept_alive_load& operator=(const kept_alive_load&) = delete;
  /// Stops the clients (each after its request in flight).
  void stop();
  int failed() const { return failed_; }
  int served() const { return served_; }
  std::string last_failure() const;
  /// How often each answer came.
  std::map<std::string, int> bodies() const;

 private:
  void run(int port, std::chrono::milliseconds pause);

  std::string path_;
  std::atomic<bool> done_{false};
  std::atomic<int> failed_{0};
  std::atomic<int> served_{0};
  mutable std::mutex mutex_;
  std::string last_failure_;
  std::map<std::string, int> bodies_;
  std::vector<std::thread> threads_;
};

/// One client's connection to 127.0.0.1:`port`, kept between requests as a
/// browser keeps it.
class kept_connection {
 public:
  explicit kept_connection(int port);
  ~kept_connection();
  kept_connection(const kept_connection&) = delete;
  kept_connection& operator=(const kept_connection&) = delete;
  /// The status of a GET of `path` on this connection; 0 when the server
  /// had closed it (a client then opens a new one).
  int get(const std::string& path);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Records events and exits; lets a test wait for one.
class recording_observer : public site_observer {
 public:
  void on_event(const site_event& event) override;
  void on_exit(const exit_info& info) override;
  std::vector<std::string> messages() const;
  std::optional<exit_info> exit() const;
  /// Waits until an event message contains every one of `parts`; returns it.
  std::optional<std::string> wait_for(const std::vector<std::string>& parts,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool wait_for_exit(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> messages_;
  std::optional<exit_info> exit_;
};

/// Runs an async operation and waits for its completion. Also checks that
/// the completion did not run inside the initiating call.
std::optional<failure> run_failure(const std::function<void(completion)>& operation,
                                   std::chrono::seconds timeout = std::chrono::seconds(60));

/// run_failure(), for tests that look at the message only.
std::optional<std::string> run(const std::function<void(completion)>& operation,
                               std::chrono::seconds timeout = std::chrono::seconds(60));

/// Polls `condition` every 20ms until true or `timeout`.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// True while `pid` exists and is not a zombie.
bool pid_alive(int pid);

/// Every PID of a snapshot (front, supervisors, workers).
std::vector<int> all_pids(const site_snapshot& snapshot);

/// Runs `body` in a child process that has dropped every privilege to
/// `account` (uid, gid, no supplementary groups) and returns its exit code
/// (`body`'s result; 125 when the switch failed).
int run_as(const unix_account& account, const std::function<int()>& body);

/// The same, without waiting: the child's PID (the caller stops it by PID).
int start_as(const unix_account& account, const std::function<int()>& body);

/// Waits for a child started by start_as(); its exit code.
int wait_child(int pid);

/// A driver config for tests: data under `root`/data, the system nginx.
config::driver_config test_driver(const std::string& root);

/// A task context for `alloc` with one dynamic port labelled "http".
task_context test_task(const fake_alloc& alloc, int http_port);

/// An application block.
config::application make_app(const std::string& path, const std::string& alias = "",
                             const std::string& pool = "default");

/// An http binding on 127.0.0.1 for the port label "http".
config::binding http_binding();

/// A pool block (IIS defaults: OnDemand, 20 minutes idle timeout).
config::application_pool make_pool(const std::string& name);

/// A pool block whose worker starts with the site (start_mode AlwaysRunning).
config::application_pool running_pool(const std::string& name);

}  // namespace nomad_iis::iis::test
