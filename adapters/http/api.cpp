#include "adapters/http/api.hpp"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "adapters/http/api_context.hpp"
#include "adapters/http/published_status.hpp"
#include "adapters/http/request_actor.hpp"
#include "adapters/http/server.hpp"
#include "common/logging.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::http {

namespace {

/// Every idle or slow client holds a descriptor: the soft limit (often
/// 1024) goes up to the hard one. Processes we start inherit it.
void raise_open_file_limit(spdlog::logger& log) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const auto was = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    logging::log(log, spdlog::level::debug, "raised the open file limit",
                 {{"from", std::to_string(was)}, {"to", std::to_string(limit.rlim_cur)}});
  }
}

}  // namespace

std::shared_ptr<api_context> make_api_context(caf::actor_system& sys, caf::actor supervisor,
                                              std::shared_ptr<const status_board> statuses,
                                              authenticator auth) {
  return std::make_shared<api_context>(std::move(auth), sys, std::move(supervisor),
                                       std::move(statuses), logging::get("http"));
}

request_sink make_request_sink(std::shared_ptr<api_context> ctx) {
  return [ctx = std::move(ctx)](std::shared_ptr<exchange> ex, request_head head) {
    if (serve_published_status(*ctx, *ex, head)) return;
    ctx->sys.spawn(request_behavior, ctx, std::move(ex), std::move(head));
  };
}

struct management_api::impl {
  impl(caf::actor_system& sys, caf::actor supervisor, caf::actor fingerprinter,
       std::shared_ptr<const status_board> statuses, const plugin_options& o)
      : options(o),
        fingerprinter(std::move(fingerprinter)),
        log(logging::get("http")),
        ctx(make_api_context(sys, std::move(supervisor), std::move(statuses),
                             authenticator(o.management_api_key, o.management_api_jwt_secret))) {}

  server_options server_opts() {
    server_options s;
    s.port = static_cast<std::uint16_t>(options.management_api_port);
    s.bind = options.management_api_bind.empty() ? "0.0.0.0" : options.management_api_bind;
    if (!ctx->auth.enabled()) s.bind = "127.0.0.1";
    s.tls_cert = options.management_api_tls_cert;
    s.tls_key = options.management_api_tls_key;
    std::lock_guard<std::mutex> lock(mutex);
    s.limits.header_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(driver.request_header_timeout);
    s.max_connections_per_client =
        static_cast<std::size_t>(driver.management_api_max_connections_per_client);
    return s;
  }

  /// Binds, retrying with backoff until it works or the plugin exits;
  /// `self` keeps this alive for the detached thread.
  void serve_loop(std::shared_ptr<impl> self) {
    auto delay = std::chrono::seconds(1);
    while (!stopping) {
      auto opts = server_opts();
      try {
        auto srv = std::make_unique<http_server>(opts, make_request_sink(ctx));
        srv->start();
        {
          std::lock_guard<std::mutex> lock(mutex);
          server = std::move(srv);
        }
        logging::log(*log, spdlog::level::info, "management api listening",
                     {{"address", opts.bind},
                      {"port", std::to_string(opts.port)},
                      {"tls", opts.tls_cert.empty() ? "false" : "true"}});
        caf::anon_send(fingerprinter, msg::api_status{true, static_cast<std::int64_t>(opts.port)});
        return;
      } catch (const std::exception& e) {
        logging::log(*log, spdlog::level::err, "management api cannot listen; retrying",
                     {{"error", e.what()}, {"retry_in_s", std::to_string(delay.count())}});
      }
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait_for(lock, delay, [&] { return stopping.load(); });
      delay = std::min(delay * 2, std::chrono::seconds(30));
    }
    (void)self;
  }

  plugin_options options;
  /// The server's settings of the driver config in effect (SetConfig).
  config::driver_config driver;
  caf::actor fingerprinter;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<api_context> ctx;
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<bool> stopping{false};
  bool started = false;
  std::unique_ptr<http_server> server;
};

management_api::management_api(caf::actor_system& sys, caf::actor supervisor,
                               caf::actor fingerprinter,
                               std::shared_ptr<const status_board> statuses,
                               const plugin_options& options)
    : impl_(std::make_shared<impl>(sys, std::move(supervisor), std::move(fingerprinter),
                                   std::move(statuses), options)) {
  raise_open_file_limit(*impl_->log);
}

management_api::~management_api() {
  impl_->stopping = true;
  impl_->cv.notify_all();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->server) impl_->server->stop();
}

void management_api::configure(const config::driver_config& driver) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->driver = driver;
  if (impl_->server) {
    impl_->server->set_header_timeout(
        std::chrono::duration_cast<std::chrono::milliseconds>(driver.request_header_timeout));
    impl_->server->set_max_connections_per_client(
        static_cast<std::size_t>(driver.management_api_max_connections_per_client));
  }
  if (impl_->started) return;
  impl_->started = true;
  if (!impl_->ctx->auth.enabled()) {
    logging::log(
        *impl_->log, spdlog::level::warn,
        "management api has neither an API key nor a JWT secret: listening on 127.0.0.1 only, "
        "every local caller has full access",
        {{"requested_bind", impl_->options.management_api_bind}});
  }
  std::thread([self = impl_] { self->serve_loop(self); }).detach();
}

}  // namespace nomad_iis::http
