#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "iis/certificates.hpp"
#include "iis/nginx_config.hpp"
#include "iis/site_layout.hpp"
#include "test_support.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

/// `nginx -t` on a rendered file; returns its exit code and output.
std::pair<int, std::string> nginx_test(const std::string& data_dir, const std::string& instance) {
  const std::string out = data_dir + "/nginx-t.txt";
  const std::string command = "cd " + data_dir + " && /usr/sbin/nginx -t -q -p " + data_dir +
                              "/ -c " + layout::conf(data_dir, instance) + " -e " +
                              layout::alert_log(data_dir, instance) + " > " + out + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {WEXITSTATUS(status), text};
}

void make_data_dir(const std::string& data_dir) {
  for (const char* sub : {"run", "logs", "tmp/front", "tmp/pool-0", "certs"}) {
    std::filesystem::create_directories(data_dir + "/" + sub);
  }
}

front_conf sample_front(const std::string& data_dir) {
  front_conf conf;
  conf.site_name = "alloc-web";
  conf.data_dir = data_dir;
  binding_plan http;
  http.ip = "127.0.0.1";
  http.port = 18080;
  binding_plan named = http;
  named.hostname = "shop.example";
  binding_plan https;
  https.type = config::binding_type::https;
  https.ip = "127.0.0.1";
  https.port = 18443;
  https.hostname = "secure.example";
  https.require_sni = true;
  https.certificate = certificate_plan{};
  conf.bindings = {http, named, https};
  front_route root;
  root.url_path = "/";
  root.socket = layout::socket_name(0);
  front_route api;
  api.url_path = "/api/";
  api.target = front_route::kind::app_port;
  api.port = 30123;
  api.pool = 1;
  api.max_body_bytes = 1000;
  api.read_timeout = std::chrono::seconds(30);
  front_route down;
  down.url_path = "/down/";
  down.target = front_route::kind::unavailable;
  down.tcp_level = true;
  front_route lazy = api;  // an application process of an OnDemand pool with an idle timeout
  lazy.url_path = "/lazy/";
  lazy.port = 30124;
  lazy.app = 3;
  lazy.wait_socket = layout::app_wait_socket(3);
  lazy.wait_timeout = std::chrono::seconds(25);
  lazy.activity_log = data_dir + "/run/activity-1.log";
  conf.routes = {root, api, down, lazy};
  conf.fallbacks = {{0, "default", false}, {1, "api", true}};
  conf.denied_prefixes = {"/secrets/", "/files/secrets/"};
  conf.requests_log = data_dir + "/logs/requests.log";
  conf.open_requests_log = data_dir + "/logs/open-requests.log";
  conf.status_socket = "logs/status.sock";  // relative: a long data dir must still fit
  return conf;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(nginx_config)

BOOST_AUTO_TEST_CASE(front_conf_has_servers_routes_and_fallbacks) {
  const std::string text = render_front_conf(sample_front("/srv/data"));
  BOOST_TEST(contains(text, "pid \"/srv/data/run/front.pid\";"));
  BOOST_TEST(contains(text, "error_log stderr warn;"));
  BOOST_TEST(contains(text, "access_log /dev/stdout combined buffer=4k flush=1s;"));
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    BOOST_TEST(contains(text, std::string("/srv/data/tmp/front/") + temp));
  }
  BOOST_TEST(contains(text, "listen 127.0.0.1:18080 default_server;"));
  BOOST_TEST(contains(text, "server_name \"shop.example\";"));
  BOOST_TEST(contains(text, "listen 127.0.0.1:18443 ssl http2;"));
  BOOST_TEST(contains(text, "ssl_reject_handshake on;"));  // only SNI bindings on 18443
  // Pools and applications are upstreams whose connections are kept.
  BOOST_TEST(contains(text,
                      "upstream nomad_iis_pool_0 {\n    server \"unix:run/pool-0.sock\";\n"
                      "    keepalive 64;\n    keepalive_timeout 1s;\n  }"));
  BOOST_TEST(contains(text,
                      "proxy_pass http://nomad_iis_pool_0;\n"
                      "      proxy_next_upstream error timeout non_idempotent;"));
  BOOST_TEST(contains(text, "error_page 502 = @pool_down_0;"));
  BOOST_TEST(contains(text,
                      "upstream nomad_iis_port_30123 {\n    server 127.0.0.1:30123;\n"
                      "    keepalive 64;\n    keepalive_timeout 1s;\n  }"));
  BOOST_TEST(contains(text, "proxy_pass http://nomad_iis_port_30123;"));
  // Applications are retried by nginx for idempotent requests only.
  BOOST_TEST(!contains(text, "proxy_pass http://nomad_iis_port_30123;\n      proxy_next_upstream"));
  BOOST_TEST(contains(text, "client_max_body_size 1000;"));
  BOOST_TEST(contains(text, "proxy_read_timeout 30s;"));
  BOOST_TEST(contains(text, "location \"/down/\" {\n      return 444;"));
  BOOST_TEST(contains(text, "location @pool_down_0 {  # pool default\n      return 503;"));
  BOOST_TEST(contains(text, "location @pool_down_1 {  # pool api\n      return 444;"));
  BOOST_TEST(contains(text, "location ^~ \"/secrets/\" { return 404; }"));
  BOOST_TEST(contains(text, "location = \"/secrets\" { return 404; }"));
  BOOST_TEST(contains(text, "location ^~ \"/files/secrets/\" { return 404; }"));
}

BOOST_AUTO_TEST_CASE(on_demand_app_waits_for_its_start_and_idle_pools_log_activity) {
  const std::string text = render_front_conf(sample_front("/srv/data"));
  BOOST_TEST(contains(text, "log_format nomad_iis_activity"));
  // The port refuses while the app is idle: wait on the backend's socket,
  // then (reset once the app accepts) ask the port again, else 503/444.
  BOOST_TEST(contains(text,
                      "location \"/lazy/\" {\n      proxy_pass http://nomad_iis_port_30124;\n"
                      "      error_page 502 = @app_wait_3;\n      recursive_error_pages on;"));
  BOOST_TEST(contains(text, "location @app_wait_3 {"));
  BOOST_TEST(contains(text,
                      "proxy_pass \"http://unix:run/app-3.wait:\";\n"
                      "      proxy_read_timeout 25s;\n"
                      "      error_page 502 504 = @app_retry_3;"));
  BOOST_TEST(contains(text,
                      "location @app_retry_3 {\n      proxy_pass http://nomad_iis_port_30124;\n"
                      "      error_page 502 = @pool_down_1;"));
  BOOST_TEST(contains(text, "access_log \"/srv/data/run/activity-1.log\" nomad_iis_activity"));
  // Pools that never idle keep the plain routes.
  BOOST_TEST(contains(text,
                      "proxy_pass http://nomad_iis_port_30123;\n"
                      "      error_page 502 = @pool_down_1;"));
  BOOST_TEST(!contains(text, "@app_wait_0"));
}

BOOST_AUTO_TEST_CASE(every_request_is_logged_once_for_its_pool) {
  const std::string text = render_front_conf(sample_front("/srv/data"));
  const std::string log = "access_log \"/srv/data/logs/requests.log\" ";
  BOOST_TEST(contains(text, "log_format nomad_iis_requests_front \"- $status $bytes_sent\";"));
  BOOST_TEST(contains(text, "log_format nomad_iis_requests_0 \"0 $status $bytes_sent\";"));
  BOOST_TEST(contains(text, "log_format nomad_iis_requests_1 \"1 $status $bytes_sent\";"));
  // The front's own answers (denied paths, unknown hosts) inherit this one.
  BOOST_TEST(contains(text, "  " + log + "nomad_iis_requests_front buffer=64k flush=1s;"));
  // Each route, a stopped pool's answer and a waiting app log their pool, with stdout again.
  BOOST_TEST(contains(text,
                      "proxy_pass http://nomad_iis_pool_0;\n"
                      "      proxy_next_upstream error timeout non_idempotent;\n"
                      "      error_page 502 = @pool_down_0;\n"
                      "      access_log /dev/stdout combined buffer=4k flush=1s;\n"
                      "      " +
                          log + "nomad_iis_requests_0 buffer=64k flush=1s;"));
  BOOST_TEST(contains(text,
                      "location \"/down/\" {\n      return 444;\n"
                      "      access_log /dev/stdout combined buffer=4k flush=1s;\n"
                      "      " +
                          log + "nomad_iis_requests_0 "));
  BOOST_TEST(contains(text,
                      "location @pool_down_1 {  # pool api\n      return 444;\n"
                      "      access_log /dev/stdout combined buffer=4k flush=1s;\n"
                      "      " +
                          log + "nomad_iis_requests_1 "));
  BOOST_TEST(contains(text,
                      "error_page 502 504 = @app_retry_3;\n      recursive_error_pages on;\n"
                      "      access_log /dev/stdout combined buffer=4k flush=1s;\n"
                      "      " +
                          log +
                          "nomad_iis_requests_1 buffer=64k flush=1s;\n"
                          "      access_log \"/srv/data/run/activity-1.log\""));
  // Without a request log nothing of it is rendered.
  auto plain = sample_front("/srv/data");
  plain.requests_log.clear();
  BOOST_TEST(!contains(render_front_conf(plain), "nomad_iis_requests"));
}

BOOST_AUTO_TEST_CASE(requests_reaching_a_pool_are_logged_when_they_start_and_end) {
  const std::string text = render_front_conf(sample_front("/srv/data"));
  const std::string log = "access_log \"/srv/data/logs/open-requests.log\" ";
  BOOST_TEST(
      contains(text,
               "log_format nomad_iis_start_1 \"s $pid $connection $connection_requests $msec "
               "$remote_addr $request_method $request_uri 1\";"));
  BOOST_TEST(
      contains(text, "log_format nomad_iis_end \"e $pid $connection $connection_requests\";"));
  // The start: a logged subrequest at the access phase, answered 204 at once.
  BOOST_TEST(contains(text,
                      "location = /__nomad_iis/start/1 {\n      internal;\n"
                      "      log_subrequest on;\n      " +
                          log +
                          "nomad_iis_start_1 buffer=64k flush=1s;\n"
                          "      return 204;"));
  BOOST_TEST(contains(text, log + "nomad_iis_end buffer=64k flush=1s;\n      auth_request "
                                  "/__nomad_iis/start/0;\n    }"));
  // Routes to a pool start one; the front's own answers do not.
  BOOST_TEST(count_of(text, "auth_request /__nomad_iis/start/1;") == 3u * 2u);  // /api/ and /lazy/
  BOOST_TEST(!contains(text, "location \"/down/\" {\n      return 444;\n      auth_request"));
  // The end line in every location that logs a pool's request.
  BOOST_TEST(contains(text, "location @pool_down_1 {"));
  auto plain = sample_front("/srv/data");
  plain.open_requests_log.clear();
  BOOST_TEST(!contains(render_front_conf(plain), "nomad_iis_start"));
  BOOST_TEST(!contains(render_front_conf(plain), "auth_request"));
}

BOOST_AUTO_TEST_CASE(stub_status_listens_on_the_plugins_socket_only) {
  const std::string text = render_front_conf(sample_front("/srv/data"));
  BOOST_TEST(contains(text,
                      "    listen \"unix:logs/status.sock\";\n    access_log off;\n"
                      "    location / { stub_status; }"));
  BOOST_TEST(count_of(text, "stub_status") == 1u);
  auto plain = sample_front("/srv/data");
  plain.status_socket.clear();
  BOOST_TEST(!contains(render_front_conf(plain), "stub_status"));
}

BOOST_AUTO_TEST_CASE(a_front_generation_has_its_own_pid_file_and_ends_kept_connections) {
  // An earlier release's front (generation 0): as it was rendered then.
  const std::string legacy = render_front_conf(sample_front("/srv/data"));
  BOOST_TEST(contains(legacy, "pid \"/srv/data/run/front.pid\";\n"));
  BOOST_TEST(!contains(legacy, "keepalive_requests"));
  auto third = sample_front("/srv/data");
  third.generation = 3;
  const std::string text = render_front_conf(third);
  BOOST_TEST(contains(text, "pid \"/srv/data/run/front-3.pid\";\n"));
  BOOST_TEST(layout::front_pid_file("/srv/data", 3) == "/srv/data/run/front-3.pid");
  BOOST_TEST(layout::front_status_socket("/srv/data", 3) == "/srv/data/logs/status-3.sock");
  // A retired generation's busy connections end within this many requests.
  BOOST_TEST(contains(text, "  keepalive_requests 1000;\n"));
  BOOST_TEST(count_of(text, "keepalive_requests") == 1u);
}

BOOST_AUTO_TEST_CASE(the_listen_addresses_are_the_distinct_bindings_in_order) {
  const auto conf = sample_front("/srv/data");
  const auto addresses = listen_addresses(conf.bindings);
  BOOST_REQUIRE(addresses.size() == 2u);
  BOOST_TEST(addresses[0].first == "127.0.0.1");
  BOOST_TEST(addresses[0].second == 18080);
  BOOST_TEST(addresses[1].second == 18443);
}

BOOST_AUTO_TEST_CASE(pool_conf_serves_locations_from_a_socket) {
  pool_conf conf;
  conf.site_name = "s";
  conf.pool_name = "default";
  conf.pool = 2;
  conf.data_dir = "/srv/data";
  conf.backlog = 77;
  conf.listen_socket = layout::pool_bind_name(2);
  conf.worker_identity = nginx_identity{"www-data", "www-data"};
  conf.locations = {{"/", "/alloc/web/local/site"}, {"/img/", "/alloc/web/local/img/"}};
  conf.denied_prefixes = {"/secrets/"};
  const std::string text = render_pool_conf(conf);
  BOOST_TEST(contains(text, "user \"www-data\" \"www-data\";"));
  BOOST_TEST(contains(text, "listen \"unix:run/pool-2.bind\" backlog=77;"));
  BOOST_TEST(contains(text, "location \"/\" {\n      alias \"/alloc/web/local/site/\";"));
  BOOST_TEST(contains(text, "location \"/img/\" {\n      alias \"/alloc/web/local/img/\";"));
  BOOST_TEST(contains(text, "web\\.config"));
  BOOST_TEST(contains(text, "absolute_redirect off;"));
  BOOST_TEST(contains(text, "tcp_nopush on;"));
  BOOST_TEST(contains(text, "/srv/data/logs/pool-2.log\" alert;"));
}

BOOST_AUTO_TEST_CASE(nginx_accepts_the_rendered_files) {
  temp_dir root;
  const std::string data_dir = root.path() + "/data";
  make_data_dir(data_dir);
  auto front = sample_front(data_dir);
  create_self_signed({"secure.example", "localhost"}, layout::cert_file(data_dir, 2),
                     layout::key_file(data_dir, 2));
  std::ofstream(layout::conf(data_dir, layout::front_instance)) << render_front_conf(front);
  auto [front_rc, front_out] = nginx_test(data_dir, layout::front_instance);
  BOOST_TEST(front_rc == 0, front_out);

  pool_conf pool;
  pool.site_name = "s";
  pool.pool_name = "default";
  pool.data_dir = data_dir;
  pool.listen_socket = layout::pool_bind_name(0);
  pool.locations = {{"/", root.path()}, {"/a b/", root.path() + "/x \"y\""}};
  pool.denied_prefixes = {"/secrets/"};
  std::ofstream(layout::conf(data_dir, layout::pool_instance(0))) << render_pool_conf(pool);
  auto [pool_rc, pool_out] = nginx_test(data_dir, layout::pool_instance(0));
  BOOST_TEST(pool_rc == 0, pool_out);
}

BOOST_AUTO_TEST_CASE(a_front_serving_files_aliases_them_and_nginx_accepts_it) {
  temp_dir root;
  const std::string data_dir = root.path() + "/data";
  make_data_dir(data_dir);
  auto front = sample_front(data_dir);
  front.bindings.pop_back();  // http only
  front.routes[0].target = front_route::kind::files;
  front.routes[0].directory = root.path() + "/site";
  front.worker_processes = 2;
  front.worker_connections = 1500;
  const std::string text = render_front_conf(front);
  BOOST_TEST(contains(text, "location \"/\" {\n      alias \"" + root.path() + "/site/\";"));
  BOOST_TEST(!contains(text, "nomad_iis_pool_0"));  // no upstream of the pool
  BOOST_TEST(contains(text, "worker_processes 2;"));
  BOOST_TEST(contains(text, "worker_rlimit_nofile 3000;\nevents {\n  worker_connections 1500;\n}"));
  BOOST_TEST(contains(text, "absolute_redirect off;"));
  BOOST_TEST(contains(text, "tcp_nopush on;"));  // header and file in one segment
  BOOST_TEST(contains(text, "index Default.htm default.htm"));
  BOOST_TEST(contains(text, "location ~* \"(^|/)web\\.config$\" { return 404; }"));
  // Its requests are still logged and counted as the pool's.
  BOOST_TEST(
      contains(text, "access_log " + nginx_quote(front.requests_log) + " nomad_iis_requests_0"));
  BOOST_TEST(contains(text, "auth_request /__nomad_iis/start/0;"));
  std::ofstream(layout::conf(data_dir, layout::front_instance)) << text;
  auto [rc, out] = nginx_test(data_dir, layout::front_instance);
  BOOST_TEST(rc == 0, out);
  // Without a files route the front stays one worker, with no file settings.
  const auto proxying = render_front_conf(sample_front(data_dir));
  BOOST_TEST(contains(proxying, "worker_processes 1;"));
  BOOST_TEST(!contains(proxying, "absolute_redirect"));
}

BOOST_AUTO_TEST_CASE(catch_all_server_uses_a_non_sni_certificate) {
  front_conf conf = sample_front("/d");
  conf.bindings[2].require_sni = false;
  const std::string text = render_front_conf(conf);
  BOOST_TEST(!contains(text, "ssl_reject_handshake"));
  BOOST_TEST(contains(text, "listen 127.0.0.1:18443 ssl http2 default_server;"));
}

BOOST_AUTO_TEST_CASE(denied_prefixes_follow_applications_into_secrets) {
  site_plan plan;
  plan.task_dir = "/a/web";
  plan.secrets_dir = "/a/web/secrets";
  application_plan root;
  root.url_path = "/";
  root.physical_path = "/a/web/local";
  application_plan whole;
  whole.url_path = "/all/";
  whole.physical_path = "/a";
  whole.virtual_directories.push_back({"/all/task/", "/a/web"});
  plan.applications = {root, whole};
  const auto denied = denied_url_prefixes(plan);
  const std::vector<std::string> expected{"/secrets/", "/all/web/secrets/", "/all/task/secrets/"};
  BOOST_TEST(denied == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(quote_escapes_and_refuses_variables) {
  BOOST_TEST(nginx_quote("a \"b\" \\c") == "\"a \\\"b\\\" \\\\c\"");
  BOOST_CHECK_THROW(nginx_quote("/x/$uri"), std::invalid_argument);
  BOOST_CHECK_THROW(nginx_quote("a\nb"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
