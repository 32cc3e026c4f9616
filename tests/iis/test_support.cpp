#include "test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>

namespace nomad_iis::iis::test {
namespace fs = std::filesystem;

temp_dir::temp_dir() {
  char pattern[] = "/tmp/iis-test-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  ::chmod(path_.c_str(), 0755);
}

temp_dir::~temp_dir() {
  std::error_code error;
  fs::remove_all(path_, error);
}

fifo_reader::fifo_reader(std::string path) : path_(std::move(path)) {
  // O_RDWR keeps the FIFO open for reading without blocking and never sees
  // EOF between writers, like a long-lived logmon.
  fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (fd_ < 0 || stop_fd_ < 0) throw std::runtime_error("fifo_reader: open " + path_);
  thread_ = std::thread([this] { run(); });
}

fifo_reader::~fifo_reader() {
  const std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  thread_.join();
  ::close(fd_);
  ::close(stop_fd_);
}

std::string fifo_reader::text() const {
  std::lock_guard lock(mutex_);
  return text_;
}

void fifo_reader::run() {
  char buffer[4096];
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n > 0) {
      std::lock_guard lock(mutex_);
      text_.append(buffer, static_cast<std::size_t>(n));
    }
  }
}

fake_alloc::fake_alloc(const std::string& root, const std::string& task) : task_name(task) {
  static std::atomic<int> counter{0};
  alloc_dir = root + "/alloc-" + std::to_string(counter++);
  for (const char* dir : {"alloc/data", "alloc/logs", "alloc/tmp"}) {
    fs::create_directories(alloc_dir + "/" + dir);
  }
  for (const char* dir : {"local", "secrets", "tmp", "private"}) {
    fs::create_directories(task_dir() + "/" + dir);
  }
  ::chmod(alloc_dir.c_str(), 0755);
  ::chmod(task_dir().c_str(), 0755);
  ::chmod((task_dir() + "/local").c_str(), 0777);
  stdout_path = alloc_dir + "/alloc/logs/." + task + ".stdout.fifo";
  stderr_path = alloc_dir + "/alloc/logs/." + task + ".stderr.fifo";
  ::mkfifo(stdout_path.c_str(), 0600);
  ::mkfifo(stderr_path.c_str(), 0600);
  out = std::make_unique<fifo_reader>(stdout_path);
  err = std::make_unique<fifo_reader>(stderr_path);
}

void fake_alloc::write(const std::string& relative, const std::string& content) const {
  const fs::path path = fs::path(task_dir()) / relative;
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

kept_alive_load::kept_alive_load(int port, std::string path, int clients) : path_(std::move(path)) {
  for (int i = 0; i < clients; ++i) {
    const auto pause = std::chrono::milliseconds(i % 2 ? 3 : 0);
    threads_.emplace_back([this, port, pause] { run(port, pause); });
  }
}

kept_alive_load::~kept_alive_load() {
  stop();
}

void kept_alive_load::stop() {
  done_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

std::string kept_alive_load::last_failure() const {
  std::lock_guard lock(mutex_);
  return last_failure_;
}

std::map<std::string, int> kept_alive_load::bodies() const {
  std::lock_guard lock(mutex_);
  return bodies_;
}

void kept_alive_load::run(int port, std::chrono::milliseconds pause) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  const boost::asio::ip::tcp::endpoint target(boost::asio::ip::make_address("127.0.0.1"),
                                              static_cast<unsigned short>(port));
  while (!done_) {
    boost::asio::ip::tcp::socket socket(io);
    try {
      socket.connect(target);
      bool open = true;
      while (open && !done_) {
        http::request<http::empty_body> request{http::verb::get, path_, 11};
        request.set(http::field::host, "localhost");
        http::write(socket, request);
        boost::beast::flat_buffer buffer;
        http::response<http::string_body> response;
        http::read(socket, buffer, response);
        open = response.keep_alive();
        {
          std::lock_guard lock(mutex_);
          if (response.result_int() == 200) {
            ++served_;
            ++bodies_[response.body()];
          } else {
            ++failed_;
            last_failure_ = "status " + std::to_string(response.result_int());
          }
        }
        std::this_thread::sleep_for(pause);
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      ++failed_;
      last_failure_ = e.what();
    }
  }
}

struct kept_connection::impl {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket{io};
};

kept_connection::kept_connection(int port) : impl_(std::make_unique<impl>()) {
  impl_->socket.connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
}

kept_connection::~kept_connection() = default;

int kept_connection::get(const std::string& path) {
  namespace http = boost::beast::http;
  http::request<http::empty_body> request{http::verb::get, path, 11};
  request.set(http::field::host, "localhost");
  boost::beast::error_code error;
  http::write(impl_->socket, request, error);
  if (error) return 0;
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(impl_->socket, buffer, response, error);
  if (error) return 0;
  return response.result_int();
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

namespace {

/// A connect a signal interrupted goes on in the kernel: wait for its outcome.
bool connect_finishes(int fd, int timeout_ms) {
  pollfd writable{fd, POLLOUT, 0};
  int ready = 0;
  do {
    ready = ::poll(&writable, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) errno = ETIMEDOUT;
  int failure = 0;
  socklen_t size = sizeof failure;
  if (ready <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size) != 0) return false;
  errno = failure;
  return failure == 0;
}

int connect_to(const std::string& ip, int port, int timeout_ms, std::string& error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
      !(errno == EINTR && connect_finishes(fd, timeout_ms))) {
    error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string request_text(const std::string& path, const std::string& host) {
  return "GET " + path + " HTTP/1.1\r\nHost: " + host +
         "\r\nUser-Agent: iis-test\r\nConnection: close\r\n\r\n";
}

void parse_response(const std::string& raw, http_response& response) {
  if (raw.empty()) {
    response.closed_without_response = true;
    return;
  }
  const auto header_end = raw.find("\r\n\r\n");
  response.headers = raw.substr(0, header_end);
  if (header_end != std::string::npos) response.body = raw.substr(header_end + 4);
  if (raw.rfind("HTTP/1.", 0) == 0 && raw.size() > 12)
    response.status = std::stoi(raw.substr(9, 3));
}

}  // namespace

namespace {

ssize_t send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return n;
    sent += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(sent);
}

http_response exchange(const std::string& ip, int port, const std::string& request,
                       int timeout_ms) {
  http_response response;
  const int fd = connect_to(ip, port, timeout_ms, response.error);
  if (fd < 0) return response;
  if (send_all(fd, request) < 0) response.error = std::string("send: ") + std::strerror(errno);
  std::string raw;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;  // the test process's children exit meanwhile
    if (n < 0) {
      if (raw.empty()) response.error = std::string("recv: ") + std::strerror(errno);
      break;
    }
    if (n == 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  parse_response(raw, response);
  return response;
}

}  // namespace

http_response http_get(const std::string& ip, int port, const std::string& path,
                       const std::string& host, int timeout_ms) {
  return exchange(ip, port, request_text(path, host), timeout_ms);
}

http_response http_post(const std::string& ip, int port, const std::string& path,
                        const std::string& body, int timeout_ms) {
  const std::string request = "POST " + path +
                              " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: iis-test\r\n"
                              "Content-Type: text/plain\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  return exchange(ip, port, request, timeout_ms);
}

tls_result https_get(const std::string& ip, int port, const std::string& path,
                     const std::string& server_name) {
  tls_result result;
  const int fd = connect_to(ip, port, 5000, result.error);
  if (fd < 0) return result;
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(context);
  SSL_set_fd(ssl, fd);
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl, server_name.c_str());
  if (SSL_connect(ssl) != 1) {
    char text[256];
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    result.error = std::string("TLS handshake failed: ") + text;
  } else {
    if (X509* cert = SSL_get1_peer_certificate(ssl)) {
      auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
      for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        if (name->type == GEN_DNS) {
          result.dns_names.emplace_back(
              reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
              static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName)));
        } else if (name->type == GEN_IPADD && ASN1_STRING_length(name->d.iPAddress) == 4) {
          char text[INET_ADDRSTRLEN];
          ::inet_ntop(AF_INET, ASN1_STRING_get0_data(name->d.iPAddress), text, sizeof text);
          result.ip_names.emplace_back(text);
        }
      }
      GENERAL_NAMES_free(names);
      X509_free(cert);
    }
    const std::string request = request_text(path, server_name.empty() ? ip : server_name);
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    std::string raw;
    char buffer[8192];
    int n = 0;
    while ((n = SSL_read(ssl, buffer, sizeof buffer)) > 0) raw.append(buffer, n);
    parse_response(raw, result.response);
  }
  SSL_free(ssl);
  SSL_CTX_free(context);
  ::close(fd);
  return result;
}

void recording_observer::on_event(const site_event& event) {
  std::lock_guard lock(mutex_);
  messages_.push_back(event.message);
  changed_.notify_all();
}

void recording_observer::on_exit(const exit_info& info) {
  std::lock_guard lock(mutex_);
  exit_ = info;
  changed_.notify_all();
}

std::vector<std::string> recording_observer::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::optional<exit_info> recording_observer::exit() const {
  std::lock_guard lock(mutex_);
  return exit_;
}

std::optional<std::string> recording_observer::wait_for(const std::vector<std::string>& parts,
                                                        std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::optional<std::string> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& message : messages_) {
      bool all = true;
      for (const auto& part : parts) all = all && message.find(part) != std::string::npos;
      if (all) {
        found = message;
        return true;
      }
    }
    return false;
  });
  return found;
}

bool recording_observer::wait_for_exit(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return exit_.has_value(); });
}

std::optional<failure> run_failure(const std::function<void(completion)>& operation,
                                   std::chrono::seconds timeout) {
  auto promise = std::make_shared<std::promise<std::optional<failure>>>();
  auto future = promise->get_future();
  auto inside = std::make_shared<std::atomic<bool>>(true);
  auto synchronous = std::make_shared<std::atomic<bool>>(false);
  const auto caller = std::this_thread::get_id();
  operation([promise, inside, synchronous, caller](std::optional<failure> error) {
    if (*inside && std::this_thread::get_id() == caller) *synchronous = true;
    promise->set_value(std::move(error));
  });
  *inside = false;
  if (future.wait_for(timeout) != std::future_status::ready) {
    return failure{errc::io_failure, "timed out waiting"};
  }
  if (*synchronous) return failure{errc::io_failure, "completion ran inside the initiating call"};
  return future.get();
}

std::optional<std::string> run(const std::function<void(completion)>& operation,
                               std::chrono::seconds timeout) {
  auto error = run_failure(operation, timeout);
  if (!error) return std::nullopt;
  return std::move(error->message);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

bool pid_alive(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return false;
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::vector<int> all_pids(const site_snapshot& snapshot) {
  std::vector<int> pids;
  if (snapshot.front.pid) pids.push_back(snapshot.front.pid);
  for (const auto& pool : snapshot.pools) {
    if (pool.supervisor.pid) pids.push_back(pool.supervisor.pid);
    for (const auto& worker : pool.workers) pids.push_back(worker.pid);
  }
  return pids;
}

config::driver_config test_driver(const std::string& root) {
  config::driver_config driver;
  driver.data_dir = root + "/data";
  driver.nginx_path = "/usr/sbin/nginx";
  driver.placeholder_app_path = "";
  return driver;
}

task_context test_task(const fake_alloc& alloc, int http_port) {
  static std::atomic<int> counter{0};
  task_context task;
  char id[40];
  std::snprintf(id, sizeof id, "%08x-1111-2222-3333-%012d", ::getpid(), counter++);
  task.alloc_id = id;
  task.task_name = alloc.task_name;
  task.task_id = task.alloc_id + "/" + task.task_name + "/abcd1234";
  task.alloc_dir = alloc.alloc_dir;
  task.stdout_path = alloc.stdout_path;
  task.stderr_path = alloc.stderr_path;
  task.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"NOMAD_TASK_NAME", alloc.task_name}};
  task.ports.push_back(port_mapping{"http", http_port, 0, "127.0.0.1"});
  return task;
}

config::application make_app(const std::string& path, const std::string& alias,
                             const std::string& pool) {
  config::application app;
  app.path = path;
  app.alias = alias;
  app.application_pool = pool;
  return app;
}

config::binding http_binding() {
  config::binding binding;
  binding.type = config::binding_type::http;
  binding.port = "http";
  binding.ip_address = "127.0.0.1";
  return binding;
}

config::application_pool make_pool(const std::string& name) {
  config::application_pool pool;
  pool.name = name;
  return pool;
}

config::application_pool running_pool(const std::string& name) {
  auto pool = make_pool(name);
  pool.start_mode = config::start_mode::always_running;
  return pool;
}

int start_as(const unix_account& account, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (::setgroups(0, nullptr) != 0 || ::setresgid(account.gid, account.gid, account.gid) != 0 ||
      ::setresuid(account.uid, account.uid, account.uid) != 0) {
    ::_exit(125);
  }
  ::_exit(body());
}

int wait_child(int pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_as(const unix_account& account, const std::function<int()>& body) {
  return wait_child(start_as(account, body));
}

}  // namespace nomad_iis::iis::test
