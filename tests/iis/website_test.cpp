// Node websites' files: the website's configuration, each task's fragments
// and the `nginx -t` that guards every change (real nginx, real files).

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "iis/failure.hpp"
#include "iis/linux_backend.hpp"
#include "iis/nginx_config.hpp"
#include "iis/site_layout.hpp"
#include "iis/website.hpp"
#include "iis/website_setup.hpp"
#include "test_support.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// A website on a free loopback port, and two tasks planned into it.
struct website_fixture {
  temp_dir root;
  config::driver_config driver = test_driver(root.path());
  site_plan website;

  website_fixture() {
    config::website_config block;
    block.name = "shop";
    config::binding binding;
    binding.port = std::to_string(free_port());
    binding.ip_address = "127.0.0.1";
    block.bindings.push_back(binding);
    driver.websites.push_back(block);
    driver.allowed_target_websites = {"shop"};
    website = plan_website(block, driver);
  }

  site_plan task_plan(const std::string& task, const std::string& alias) {
    fake_alloc alloc(root.path() + "/" + task);
    std::filesystem::create_directories(alloc.task_dir() + "/local/site");
    config::task_config config;
    config.target_website = "shop";
    config.applications.push_back(make_app("local/site", alias));
    config.application_pools.push_back(make_pool("default"));
    auto plan = plan_site(config, test_task(alloc, 0), driver, false);
    // What prepare_site makes: the folders of the task's logs.
    std::filesystem::create_directories(plan.data_dir + "/logs");
    std::filesystem::create_directories(plan.data_dir + "/run");
    return plan;
  }

  static std::vector<pool_routes> static_routes() {
    pool_routes routes;
    routes.pool = 0;
    routes.apps.push_back(app_runtime{0, std::nullopt, std::nullopt, 0});
    return {routes};
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_FIXTURE_TEST_SUITE(website, website_fixture)

BOOST_AUTO_TEST_CASE(website_conf_includes_the_members_and_serves_its_root) {
  website_conf conf;
  conf.site_name = "shop";
  conf.data_dir = "/d";
  conf.bindings = website.bindings;
  conf.members_dir = "/d/members";
  conf.worker_connections = 2000;
  std::string text = render_website_conf(conf);
  BOOST_TEST(contains(text, "worker_connections 2000;"));
  BOOST_TEST(website.front_worker_connections == 1024);  // the driver's
  BOOST_TEST(contains(text, "include \"/d/members/*.http\";"));
  BOOST_TEST(contains(text, "include \"/d/members/*.conf\";"));
  BOOST_TEST(contains(text, "location / { return 404; }"));
  BOOST_TEST(contains(text, "location ^~ \"/secrets/\" { return 404; }"));
  conf.root_dir = "/srv/www/shop/";
  text = render_website_conf(conf);
  BOOST_TEST(contains(text, "root \"/srv/www/shop\";"));
  BOOST_TEST(!contains(text, "location / { return 404; }"));
}

BOOST_AUTO_TEST_CASE(member_fragments_name_their_locations_apart) {
  front_member member;
  member.label = "mabc_";
  member.requests_log = "/t/logs/requests.log";
  member.fallbacks.push_back(pool_fallback{0, "default", false});
  front_route route;
  route.url_path = "/app/";
  route.socket = "members/abc/run/pool-0.sock";
  member.routes.push_back(route);
  const auto locations = render_member_locations(member);
  BOOST_TEST(contains(locations, "location \"/app/\""));
  BOOST_TEST(contains(locations, "proxy_pass http://nomad_iis_pool_mabc_0;"));
  BOOST_TEST(contains(locations, "error_page 502 = @pool_down_mabc_0;"));
  BOOST_TEST(contains(locations, "location @pool_down_mabc_0"));
  BOOST_TEST(contains(locations, "\"/t/logs/requests.log\" nomad_iis_requests_mabc_0"));
  BOOST_TEST(contains(render_member_http(member),
                      "log_format nomad_iis_requests_mabc_0 \"0 $status $bytes_sent\";"));
  BOOST_TEST(contains(render_member_http(member),
                      "upstream nomad_iis_pool_mabc_0 {\n"
                      "    server \"unix:members/abc/run/pool-0.sock\";"));
}

BOOST_AUTO_TEST_CASE(nginx_checks_every_member_change) {
  const auto shop_a = task_plan("a", "app-a");
  const auto shop_b = task_plan("b", "app-b");
  const auto key_a = website_member_key(shop_a.site_name);
  const auto key_b = website_member_key(shop_b.site_name);
  BOOST_TEST(key_a != key_b);
  prepare_website(website, {});
  update_website_member(website, key_a, &shop_a, static_routes());
  update_website_member(website, key_b, &shop_b, static_routes());
  const auto fragment_a = read(layout::website_member_locations(website.data_dir, key_a));
  BOOST_TEST(contains(fragment_a, "location \"/app-a/\""));
  // Its pool's socket, through the task's link, is an upstream of its own.
  BOOST_TEST(contains(fragment_a, "proxy_pass http://nomad_iis_pool_m" + key_a + "_0;"));
  BOOST_TEST(contains(read(layout::website_member_http(website.data_dir, key_a)),
                      "server \"unix:members/" + key_a + "/run/pool-0.sock\";"));
  BOOST_TEST(std::filesystem::read_symlink(website.data_dir + "/members/" + key_a) ==
             shop_a.data_dir);

  // The same alias twice is a duplicate location: nginx refuses, the
  // member's earlier fragment comes back.
  auto clash = task_plan("c", "app-a");
  const auto key_c = website_member_key(clash.site_name);
  try {
    update_website_member(website, key_c, &clash, static_routes());
    BOOST_FAIL("nginx took a duplicate location");
  } catch (const backend_error& e) {
    BOOST_TEST((e.code() == errc::invalid_config));
    BOOST_TEST(contains(e.what(), "duplicate location"), e.what());
  }
  BOOST_TEST(!std::filesystem::exists(layout::website_member_locations(website.data_dir, key_c)));
  BOOST_TEST(read(layout::website_member_locations(website.data_dir, key_a)) == fragment_a);

  // Leaving removes the fragments and the link; a new preparation drops
  // fragments of tasks it was not told about.
  update_website_member(website, key_b, nullptr, {});
  BOOST_TEST(!std::filesystem::exists(layout::website_member_locations(website.data_dir, key_b)));
  BOOST_TEST(!std::filesystem::is_symlink(website.data_dir + "/members/" + key_b));
  prepare_website(website, {});
  BOOST_TEST(!std::filesystem::exists(layout::website_member_locations(website.data_dir, key_a)));
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
