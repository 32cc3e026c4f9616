#pragma once
// Idle keep-alive connections of the plain-HTTP Management API, watched by
// one epoll thread instead of one blocked thread each. Status polls (see
// status_poll.hpp) are answered right there: the request is only peeked
// at, the task's actor is asked asynchronously (requests for one task that
// arrive together share a read, each computed after its callers arrived),
// and the answer is written when it comes. Any other request is handed,
// its bytes still unread, to a connection thread, which returns the
// connection here once it is idle again. Sixty-four pollers then cost a
// few wake-ups per batch instead of two context switches per request.

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

#include "adapters/http/status_poll.hpp"

namespace nomad_iis::http {

class api_context;
struct status_answer;

struct reactor_options {
  /// An idle connection is closed after this long.
  std::chrono::milliseconds keep_alive{std::chrono::seconds(10)};
  /// Requests answered here per connection before it is closed.
  std::uint32_t max_requests = 10000;
};

class connection_reactor {
 public:
  /// Serves `fd` (blocking again, its next request unread) on a thread,
  /// and owns it from then on.
  using hand_off = std::function<void(int fd)>;

  connection_reactor(api_context& ctx, reactor_options options, hand_off to_thread);
  ~connection_reactor();
  connection_reactor(const connection_reactor&) = delete;
  connection_reactor& operator=(const connection_reactor&) = delete;

  void start();
  /// Closes every connection held here; later adopt() calls fail.
  void stop();
  /// Takes over the idle connection `fd` (any thread). False once stopped:
  /// the caller still owns `fd` then.
  bool adopt(int fd);

 private:
  using task_key = std::pair<std::string, std::string>;
  using answer_ptr = std::shared_ptr<const status_answer>;
  struct inbox;

  enum class phase { idle, waiting, writing };
  struct connection {
    phase state = phase::idle;
    std::chrono::steady_clock::time_point idle_since;
    std::chrono::steady_clock::time_point asked;  ///< when the waiting request was read
    std::uint32_t served = 0;
    std::optional<status_poll> poll;
    std::string out;
    std::size_t out_sent = 0;
    bool close_after = false;
  };
  /// The reads of one task: the one under way and who waits for it, and
  /// who arrived since (they get the next read).
  struct task_reads {
    bool in_flight = false;
    std::vector<int> current;
    std::vector<int> next;
  };

  void run();
  void drain_inbox();
  void on_ready(int fd, std::uint32_t events);
  void read_request(int fd, connection& c);
  void start_reads();
  void begin_read(const task_key& key);
  void on_answer(const task_key& key, const answer_ptr& answer);
  void deliver(int fd, const answer_ptr& answer);
  void flush(int fd, connection& c);
  void watch(int fd, std::uint32_t events);
  void to_thread(int fd);
  void close_connection(int fd);
  void expire_idle(std::chrono::steady_clock::time_point now);

  api_context& ctx_;
  reactor_options options_;
  hand_off to_thread_;
  /// Shared with the actor callbacks, which may outlive the reactor.
  std::shared_ptr<inbox> inbox_;
  int epoll_fd_ = -1;
  std::thread thread_;
  std::unordered_map<int, connection> connections_;
  std::map<task_key, task_reads> reads_;
  /// Tasks whose first waiters came in this batch: their read starts once
  /// the whole batch is parsed, so the batch shares it.
  std::vector<task_key> to_start_;
  http_date_clock date_;
  std::vector<char> peek_buffer_;
};

}  // namespace nomad_iis::http
