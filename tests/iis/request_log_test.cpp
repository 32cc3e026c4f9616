#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "iis/request_counter.hpp"
#include "iis/request_log.hpp"
#include "iis/site_layout.hpp"
#include "test_support.hpp"

using namespace nomad_iis::iis;

namespace {

void append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

std::uint64_t count(const request_totals& t, std::int64_t pool, int status_class) {
  auto it = t.pools.find(pool);
  return it == t.pools.end() ? 0 : it->second.by_class[static_cast<std::size_t>(status_class - 1)];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(request_log)

BOOST_AUTO_TEST_CASE(tally_counts_complete_lines_by_pool_and_class) {
  request_totals t;
  const std::string text = "0 200 512\n0 404 100\n- 400 90\n1 444 0\n1 503 7\n0 20";
  const auto used = tally_requests(text, t);
  BOOST_TEST(used == text.rfind('\n') + 1);  // the partial line waits
  BOOST_TEST(count(t, 0, 2) == 1u);
  BOOST_TEST(count(t, 0, 4) == 1u);
  BOOST_TEST(count(t, front_requests, 4) == 1u);
  BOOST_TEST(count(t, 1, 4) == 1u);  // 444: closed without an answer
  BOOST_TEST(count(t, 1, 5) == 1u);
  BOOST_TEST(t.pools[0].bytes_sent == 612u);
  BOOST_TEST(t.pools[1].bytes_sent == 7u);
  BOOST_TEST(t.malformed == 0u);
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_counted_apart) {
  request_totals t;
  tally_requests("x 200 1\n0 200\n0 99 1\n0 600 1\n-1 200 1\n0 200 1 extra\n0 200 -5\n\n", t);
  BOOST_TEST(t.malformed == 8u);
  BOOST_TEST(t.pools.empty());
}

BOOST_AUTO_TEST_CASE(lines_for_endless_pools_do_not_grow_the_totals) {
  request_totals t;
  std::string text;
  for (int pool = 0; pool < 5000; ++pool) text += std::to_string(pool) + " 200 1\n";
  tally_requests(text, t);
  BOOST_TEST(t.pools.size() == 1024u);
  BOOST_TEST(t.malformed == 5000u - 1024u);
  tally_requests("7 200 1\n", t);  // a pool already counted still counts
  BOOST_TEST(count(t, 7, 2) == 2u);
}

BOOST_AUTO_TEST_CASE(totals_round_trip_and_refuse_what_they_did_not_write) {
  request_totals t;
  t.offset = 123456789012ull;
  t.malformed = 2;
  tally_requests("0 200 10\n3 302 0\n- 404 5\n", t);
  const auto back = decode_request_totals(encode_request_totals(t));
  BOOST_TEST(back.offset == t.offset);
  BOOST_TEST(back.malformed == 2u);
  BOOST_TEST(encode_request_totals(back) == encode_request_totals(t));
  BOOST_TEST(count(back, 3, 3) == 1u);
  BOOST_TEST(count(back, front_requests, 4) == 1u);
  BOOST_CHECK_THROW(decode_request_totals("offset 3\n"), std::invalid_argument);
  BOOST_CHECK_THROW(decode_request_totals("nomad-iis request totals 1\npool 0 1 2\n"),
                    std::invalid_argument);
  BOOST_CHECK_THROW(decode_request_totals("nomad-iis request totals 1\nother 1\n"),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(count_requests_reads_on_from_the_kept_offset) {
  test::temp_dir root;
  const std::string data_dir = root.path();
  std::filesystem::create_directories(data_dir + "/logs");
  std::filesystem::create_directories(data_dir + "/run");
  const auto log = layout::requests_log(data_dir);

  BOOST_TEST(count_requests(data_dir).pools.empty());  // no log yet
  append(log, "0 200 100\n0 200 100\n0 40");
  auto t = count_requests(data_dir);
  BOOST_TEST(count(t, 0, 2) == 2u);
  BOOST_TEST(t.offset == 20u);
  append(log, "4 10\n- 400 1\n");
  // A new call knows nothing but the files: the totals come from beside the log.
  t = count_requests(data_dir);
  BOOST_TEST(count(t, 0, 2) == 2u);
  BOOST_TEST(count(t, 0, 4) == 1u);
  BOOST_TEST(count(t, front_requests, 4) == 1u);
  BOOST_TEST(t.pools[0].bytes_sent == 210u);
  t = count_requests(data_dir);
  BOOST_TEST(count(t, 0, 2) == 2u);  // nothing counted twice

  // A log that starts anew (shorter than the offset) is counted from its start.
  std::filesystem::remove(log);
  append(log, "0 500 1\n");
  t = count_requests(data_dir);
  BOOST_TEST(count(t, 0, 5) == 1u);
  BOOST_TEST(count(t, 0, 2) == 2u);
}

BOOST_AUTO_TEST_CASE(counted_bytes_leave_the_disk) {
  test::temp_dir root;
  const std::string data_dir = root.path();
  std::filesystem::create_directories(data_dir + "/logs");
  std::filesystem::create_directories(data_dir + "/run");
  const auto log = layout::requests_log(data_dir);
  std::string lines;
  while (lines.size() < (1u << 20)) lines += "0 200 12345\n";
  append(log, lines);
  ::sync();
  struct stat before {};
  BOOST_REQUIRE(::stat(log.c_str(), &before) == 0);
  const auto t = count_requests(data_dir);
  BOOST_TEST(count(t, 0, 2) == lines.size() / 12);
  struct stat after {};
  BOOST_REQUIRE(::stat(log.c_str(), &after) == 0);
  BOOST_TEST(after.st_size == before.st_size);  // nginx's offset stays valid
  BOOST_TEST(after.st_blocks < before.st_blocks / 8,
             "blocks " << before.st_blocks << " -> " << after.st_blocks);
  // What is left to count reads as it was written.
  append(log, "0 301 1\n");
  BOOST_TEST(count(count_requests(data_dir), 0, 3) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
