#pragma once
// Every plain-HTTP connection of the Management API is accepted by one
// epoll thread and waits there, without a thread of its own, while it is
// idle or still sending a request's headers. The reactor reads each
// request's header block itself, checks its framing (framing.hpp), applies
// the header timeout (408) and the per-client connection limit (503), and
// answers status polls right there: the task's actor is asked
// asynchronously (polls of one task that arrive together share a read,
// each computed after its callers arrived) and the answer is written when
// it comes. Any other request goes, once its header block is complete, to a
// connection thread together with the bytes read so far; the thread gives
// the connection back once the request is served. A thousand slow or silent
// clients then cost descriptors, not threads.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adapters/http/client_limits.hpp"
#include "adapters/http/status_poll.hpp"

namespace nomad_iis::http {

class api_context;
struct status_answer;

struct reactor_options {
  /// An idle connection is closed after this long.
  std::chrono::milliseconds keep_alive{std::chrono::seconds(10)};
  /// From a request's first byte to the end of its headers; later is 408.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  /// Requests answered here per connection before it is closed.
  std::uint32_t max_requests = 10000;
  /// The largest header block a request may have (larger is 431).
  std::size_t max_header_bytes = 64 << 10;
};

class connection_reactor {
 public:
  /// Serves `fd` (blocking again) on a thread, and owns it from then on.
  /// `pending` holds the bytes already read off it: a complete header
  /// block first. `slot` is the client's connection slot.
  using hand_off =
      std::function<void(int fd, std::string pending, std::shared_ptr<client_slot> slot)>;

  connection_reactor(api_context& ctx, reactor_options options,
                     std::shared_ptr<client_limits> limits, hand_off to_thread);
  ~connection_reactor();
  connection_reactor(const connection_reactor&) = delete;
  connection_reactor& operator=(const connection_reactor&) = delete;

  /// Starts accepting on `listen_fd` (the caller keeps owning it).
  void start(int listen_fd);
  /// Closes every connection held here and stops accepting; later adopt()
  /// calls fail.
  void stop();
  /// Takes back the connection `fd` a thread has served, with the bytes it
  /// read ahead (any thread). False once stopped: the caller still owns `fd`.
  bool adopt(int fd, std::string pending, std::shared_ptr<client_slot> slot);
  /// Applies to requests whose first byte comes after the call.
  void set_header_timeout(std::chrono::milliseconds timeout) {
    header_timeout_ms_ = timeout.count();
  }

 private:
  using task_key = std::pair<std::string, std::string>;
  using answer_ptr = std::shared_ptr<const status_answer>;
  struct inbox;

  enum class phase { idle, waiting, writing };
  struct connection {
    phase state = phase::idle;
    std::chrono::steady_clock::time_point idle_since;
    /// When the first byte of the request in `pending` came.
    std::chrono::steady_clock::time_point request_began;
    std::chrono::steady_clock::time_point asked;  ///< when the waiting request was complete
    std::uint32_t served = 0;
    /// Bytes read off the socket and not yet served.
    std::string pending;
    std::optional<status_poll> poll;
    std::string out;
    std::size_t out_sent = 0;
    bool close_after = false;
    std::shared_ptr<client_slot> slot;
  };
  /// The reads of one task: the one under way and who waits for it, and
  /// who arrived since (they get the next read).
  struct task_reads {
    bool in_flight = false;
    std::vector<int> current;
    std::vector<int> next;
  };

  void run();
  void accept_all();
  void drain_inbox();
  void add(int fd, std::string pending, std::shared_ptr<client_slot> slot);
  void on_ready(int fd, std::uint32_t events);
  void receive(int fd, connection& c);
  void judge(int fd, connection& c);
  void refuse(int fd, connection& c, int status, const std::string& code,
              const std::string& message);
  void start_reads();
  void begin_read(const task_key& key);
  void on_answer(const task_key& key, const answer_ptr& answer);
  void deliver(int fd, const answer_ptr& answer);
  void flush(int fd, connection& c);
  void watch(int fd, std::uint32_t events);
  void to_thread(int fd, connection& c);
  void close_connection(int fd);
  void sweep(std::chrono::steady_clock::time_point now);

  api_context& ctx_;
  reactor_options options_;
  std::atomic<std::int64_t> header_timeout_ms_;
  std::shared_ptr<client_limits> limits_;
  hand_off to_thread_;
  /// Shared with the actor callbacks, which may outlive the reactor.
  std::shared_ptr<inbox> inbox_;
  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  /// False while accept() fails for want of descriptors (retried by the sweep).
  bool accepting_ = false;
  /// Connections refused since the last log line about them.
  std::size_t refused_ = 0;
  std::string refused_client_;
  std::chrono::steady_clock::time_point refusals_logged_{};
  std::thread thread_;
  std::unordered_map<int, connection> connections_;
  std::map<task_key, task_reads> reads_;
  /// Tasks whose first waiters came in this batch: their read starts once
  /// the whole batch is parsed, so the batch shares it.
  std::vector<task_key> to_start_;
  http_date_clock date_;
  std::vector<char> read_buffer_;
};

}  // namespace nomad_iis::http
