#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "adapters/http/http_error.hpp"
#include "adapters/http/router.hpp"

using namespace nomad_iis::http;

BOOST_AUTO_TEST_SUITE(routes)

BOOST_AUTO_TEST_CASE(known_routes) {
  auto m = match_route("GET", "/api/v1/allocs");
  BOOST_TEST(m.status == 200);
  BOOST_TEST((m.id == route_id::list_allocs));
  BOOST_TEST((match_route("GET", "/api/v1/debug").id == route_id::debug));
  m = match_route("GET", "/api/v1/allocs/abc-123/my%20task/status");
  BOOST_TEST(m.status == 200);
  BOOST_TEST((m.id == route_id::status));
  BOOST_TEST(m.alloc_id == "abc-123");
  BOOST_TEST(m.task_name == "my task");
  BOOST_TEST((match_route("PUT", "/api/v1/allocs/a/t/start").id == route_id::start));
  BOOST_TEST((match_route("PUT", "/api/v1/allocs/a/t/stop").id == route_id::stop));
  BOOST_TEST((match_route("PUT", "/api/v1/allocs/a/t/recycle").id == route_id::recycle));
  BOOST_TEST((match_route("GET", "/api/v1/allocs/a/t/screenshot").id == route_id::screenshot));
  BOOST_TEST((match_route("GET", "/api/v1/allocs/a/t/procdump").id == route_id::procdump));
  m = match_route("PATCH", "/api/v1/allocs/a/t/fs/local%2Fa.txt");
  BOOST_TEST((m.id == route_id::fs_patch));
  BOOST_TEST(m.fs_segments == std::vector<std::string>{"local%2Fa.txt"});
  m = match_route("DELETE", "/api/v1/allocs/a/t/fs/local/x/*");
  BOOST_TEST((m.id == route_id::fs_delete));
  BOOST_TEST(m.fs_segments == (std::vector<std::string>{"local", "x", "*"}));
  BOOST_TEST((match_route("GET", "/api/v1/allocs/a/t/fs").id == route_id::fs_get));
  BOOST_TEST((match_route("PUT", "/api/v1/allocs/a/t/fs/x").id == route_id::fs_put));
}

BOOST_AUTO_TEST_CASE(unknown_routes_are_404) {
  for (const char* p :
       {"/", "/api", "/api/v1", "/api/v1/", "/api/v2/allocs", "/api/v1/allocs/a",
        "/api/v1/allocs/a/t", "/api/v1/allocs/a/t/nope", "/api/v1/allocs/a/t/status/x",
        "/api/v1/allocs//t/status", "/api/v1/allocs/a//status", "/api/v1/allocsx", "api/v1/allocs",
        "/API/v1/allocs", "/api/v1/debug/x"}) {
    BOOST_TEST(match_route("GET", p).status == 404, p);
  }
}

BOOST_AUTO_TEST_CASE(wrong_methods_are_405_with_allow) {
  auto m = match_route("POST", "/api/v1/allocs");
  BOOST_TEST(m.status == 405);
  BOOST_TEST(m.allow == "GET");
  m = match_route("GET", "/api/v1/allocs/a/t/start");
  BOOST_TEST(m.status == 405);
  BOOST_TEST(m.allow == "PUT");
  m = match_route("POST", "/api/v1/allocs/a/t/fs/x");
  BOOST_TEST(m.status == 405);
  BOOST_TEST(m.allow == "GET, PUT, PATCH, DELETE");
  BOOST_TEST(match_route("DELETE", "/api/v1/debug").status == 405);
  BOOST_TEST(match_route("HEAD", "/api/v1/allocs/a/t/status").status == 405);
}

BOOST_AUTO_TEST_CASE(pool_workers_and_requests_routes) {
  auto m = match_route("GET", "/api/v1/allocs/a/t/pools/my%20pool/workers");
  BOOST_TEST(m.status == 200);
  BOOST_TEST((m.id == route_id::workers));
  BOOST_TEST(m.alloc_id == "a");
  BOOST_TEST(m.pool_name == "my pool");
  BOOST_TEST((match_route("GET", "/api/v1/allocs/a/t/requests").id == route_id::requests));
  for (const char* p : {"/api/v1/allocs/a/t/pools", "/api/v1/allocs/a/t/pools/p",
                        "/api/v1/allocs/a/t/pools//workers", "/api/v1/allocs/a/t/pools/p/x",
                        "/api/v1/allocs/a/t/pools/p/workers/x", "/api/v1/allocs/a/t/requests/x"})
    BOOST_TEST(match_route("GET", p).status == 404, p);
  m = match_route("PUT", "/api/v1/allocs/a/t/pools/p/workers");
  BOOST_TEST(m.status == 405);
  BOOST_TEST(m.allow == "GET");
  BOOST_CHECK_THROW(match_route("GET", "/api/v1/allocs/a/t/pools/p%2Fq/workers"), http_error);
}

BOOST_AUTO_TEST_CASE(bad_alloc_encoding_is_400) {
  BOOST_CHECK_THROW(match_route("GET", "/api/v1/allocs/a%zz/t/status"), http_error);
  BOOST_CHECK_THROW(match_route("GET", "/api/v1/allocs/a%2Fb/t/status"), http_error);
  BOOST_CHECK_THROW(match_route("GET", "/api/v1/allocs/a/t%00/status"), http_error);
}

BOOST_AUTO_TEST_SUITE_END()
