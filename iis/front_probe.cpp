#include "iis/front_probe.hpp"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <sstream>
#include <vector>

#include "common/unique_fd.hpp"
#include "iis/consumed_log.hpp"
#include "iis/failure.hpp"
#include "iis/proc_file.hpp"
#include "iis/site_layout.hpp"
#include "iis/sock_diag.hpp"

namespace nomad_iis::iis {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr auto status_timeout = std::chrono::seconds(1);
/// At most this much of the open-requests log per chunk, and chunks per call.
constexpr std::size_t max_chunk = 16u << 20;
constexpr int max_chunks = 16;

/// The parent pid of `pid` (field 4 of /proc/<pid>/stat), 0 when gone.
std::int32_t parent_of(std::int32_t pid) {
  const auto stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat->substr(close + 1));
  std::string state;
  std::int32_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

constexpr std::uint8_t tcp_established = 1;  // the kernel's state numbers, which unix sockets share
constexpr std::uint8_t tcp_listen = 10;

/// The sock_diag dump request for listening and connected unix sockets
/// with their file and queue lengths; read by waiting_requests.
unix_diag_req waiting_sockets_request() {
  unix_diag_req request{};
  request.sdiag_family = AF_UNIX;
  request.udiag_states = (1u << tcp_listen) | (1u << tcp_established);
  request.udiag_show = UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN;
  return request;
}

/// The kernel's own dev_t (MKDEV: major << 20 | minor), which sock_diag
/// reports for a socket's file; stat() encodes it differently.
std::uint32_t kernel_dev(dev_t dev) {
  return static_cast<std::uint32_t>((::major(dev) << 20) | ::minor(dev));
}

/// The requests waiting at the dumped socket `h` if its file is (dev, ino):
/// a listener's connections not yet accepted, or one for a connection it
/// accepted (which carries the listener's file) holding bytes not yet read.
std::optional<std::uint64_t> waiting_at(const nlmsghdr& h, dev_t dev, ino_t ino) {
  const auto* m = static_cast<const unix_diag_msg*>(NLMSG_DATA(&h));
  int length = static_cast<int>(h.nlmsg_len - NLMSG_LENGTH(sizeof *m));
  std::optional<unix_diag_vfs> vfs;
  std::optional<unix_diag_rqlen> rqlen;
  for (const auto* a = reinterpret_cast<const rtattr*>(m + 1); RTA_OK(a, length);
       a = RTA_NEXT(a, length)) {
    if (a->rta_type == UNIX_DIAG_VFS && RTA_PAYLOAD(a) >= sizeof(unix_diag_vfs)) {
      vfs.emplace();
      std::memcpy(&*vfs, RTA_DATA(a), sizeof *vfs);
    } else if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(unix_diag_rqlen)) {
      rqlen.emplace();
      std::memcpy(&*rqlen, RTA_DATA(a), sizeof *rqlen);
    }
  }
  if (!vfs || !rqlen || vfs->udiag_vfs_ino != ino || vfs->udiag_vfs_dev != kernel_dev(dev))
    return std::nullopt;
  if (m->udiag_state == tcp_listen) return rqlen->udiag_rqueue;  // connections not yet accepted
  return rqlen->udiag_rqueue > 0 ? 1 : 0;                        // bytes not yet read
}

}  // namespace

std::string status_socket_name(const std::string& data_dir, std::uint32_t generation) {
  return layout::front_status_socket(data_dir, generation).substr(data_dir.size() + 1);
}

std::optional<connection_counts> read_stub_status(const std::string& dir, const std::string& name) {
  const unique_fd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return std::nullopt;
  const std::string socket_path = "/proc/self/fd/" + std::to_string(dir_fd.get()) + "/" + name;
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  boost::beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, "/", 11};
  request.set(http::field::host, "localhost");
  request.keep_alive(false);
  http::response<http::string_body> response;
  bool done = false;
  boost::system::error_code failed;
  socket.async_connect(socket_path, [&](boost::system::error_code ec) {
    if (ec) return void(failed = ec);
    http::async_write(socket, request, [&](boost::system::error_code ec, std::size_t) {
      if (ec) return void(failed = ec);
      http::async_read(socket, buffer, response, [&](boost::system::error_code ec, std::size_t) {
        failed = ec;
        done = !ec;
      });
    });
  });
  io.run_for(status_timeout);
  if (!done || failed || response.result() != http::status::ok) return std::nullopt;
  return parse_stub_status(response.body());
}

std::uint64_t waiting_requests(const std::string& socket_path) {
  struct stat file {};
  if (::stat(socket_path.c_str(), &file) != 0 || !S_ISSOCK(file.st_mode)) return 0;
  std::uint64_t total = 0;
  try {
    dump_sockets(waiting_sockets_request(), [&](const nlmsghdr& socket) {
      if (auto waiting = waiting_at(socket, file.st_dev, file.st_ino)) total += *waiting;
    });
  } catch (const backend_error&) {
    // what was counted before stands
  }
  return total;
}

void read_open_requests(const std::string& log_path, const std::vector<process_ref>& front_masters,
                        open_requests& state) {
  const unique_fd log(::open(log_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  struct stat st {};
  if (!log || ::fstat(log.get(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < state.offset) state = {};
  if (state.offset == 0) {  // skip what earlier reads punched out
    const auto data = ::lseek(log.get(), 0, SEEK_DATA);
    state.offset = data >= 0 ? static_cast<std::uint64_t>(data) : size;
  }
  for (int chunk = 0; chunk < max_chunks && state.offset < size; ++chunk) {
    const auto length =
        static_cast<std::size_t>(std::min<std::uint64_t>(size - state.offset, max_chunk));
    const auto used = track_requests(read_log_at(log.get(), state.offset, length), state);
    if (used == 0) break;
    state.offset += used;
  }
  free_consumed(log.get(), state.offset);
  for (auto it = state.open.begin(); it != state.open.end();) {
    const auto parent = parent_of(it->second.worker);
    const bool served =
        std::any_of(front_masters.begin(), front_masters.end(),
                    [parent](const process_ref& m) { return m.pid && m.pid == parent; });
    if (!served)
      it = state.open.erase(it);
    else
      ++it;
  }
}

}  // namespace nomad_iis::iis
