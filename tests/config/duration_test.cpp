#define BOOST_TEST_MODULE config_tests
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "config/duration.hpp"

using nomad_iis::config::duration;
using nomad_iis::config::parse_duration;
using namespace std::chrono_literals;

namespace {

/// parse_duration as milliseconds, or -1 when refused; keeps failures readable.
long long ms(std::string_view text) {
  auto parsed = parse_duration(text);
  return parsed ? static_cast<long long>(parsed->count()) : -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(durations)

BOOST_AUTO_TEST_CASE(unit_form_single_parts) {
  BOOST_TEST(ms("1w") == duration(7 * 24h).count());
  BOOST_TEST(ms("3d") == duration(72h).count());
  BOOST_TEST(ms("0h") == 0);
  BOOST_TEST(ms("1h") == duration(1h).count());
  BOOST_TEST(ms("42m") == duration(42min).count());
  BOOST_TEST(ms("42s") == 42000);
  BOOST_TEST(ms("741ms") == 741);
  BOOST_TEST(ms("500ms") == 500);
}

BOOST_AUTO_TEST_CASE(unit_form_combined) {
  BOOST_TEST(ms("7h2m") == duration(7h + 2min).count());
  BOOST_TEST(ms("7h2m3s") == duration(7h + 2min + 3s).count());
  BOOST_TEST(ms("1h30m") == duration(90min).count());
  BOOST_TEST(ms("1w2d3h4m5s6ms") == duration(9 * 24h + 3h + 4min + 5s + 6ms).count());
  BOOST_TEST(ms("1m30s") == 90000);
  BOOST_TEST(ms("2m500ms") == 120500);
  BOOST_TEST(ms("90m") == duration(90min).count());  // parts may exceed their natural range
  BOOST_TEST(ms("007s") == 7000);
}

BOOST_AUTO_TEST_CASE(unit_form_whitespace_like_the_original) {
  BOOST_TEST(ms("1h 30m") == duration(90min).count());
  BOOST_TEST(ms("  30s  ") == 30000);
  BOOST_TEST(ms("1h\t2m") == duration(62min).count());
}

BOOST_AUTO_TEST_CASE(timespan_form) {
  BOOST_TEST(ms("00:00") == 0);
  BOOST_TEST(ms("04:51") == duration(4h + 51min).count());
  BOOST_TEST(ms("04:51:23") == duration(4h + 51min + 23s).count());
  BOOST_TEST(ms("04:51:23.740") == duration(4h + 51min + 23s + 740ms).count());
  BOOST_TEST(ms("07.04:51:23") == duration(7 * 24h + 4h + 51min + 23s).count());
  BOOST_TEST(ms("00:20:00") == duration(20min).count());
  BOOST_TEST(ms("1.02:00:00") == duration(26h).count());
  BOOST_TEST(ms("00:00:01.5") == 1500);
  BOOST_TEST(ms("00:00:01.1234567") == 1123);  // below a millisecond is dropped
  BOOST_TEST(ms("23:59:59") == duration(24h - 1s).count());
  BOOST_TEST(ms("1:2:3") == duration(1h + 2min + 3s).count());
  BOOST_TEST(ms(" 00:01:00 ") == 60000);
  BOOST_TEST(ms("1.00:00") == duration(24h).count());  // d.hh:mm
}

BOOST_AUTO_TEST_CASE(refused_inputs) {
  for (const char* bad : {"",
                          " ",
                          "abc",
                          "5",
                          "1.5h",
                          "-1h",
                          "+1h",
                          "1h-",
                          "h",
                          "1x",
                          "1H",
                          "30m1h",
                          "1h1h",
                          "1s1m",
                          "1ms1s",
                          "1 h",
                          "1h30",
                          "24:00:00",
                          "00:60:00",
                          "00:00:60",
                          "-00:01:00",
                          "00:00:00.",
                          "00:00:00.12345678",
                          "1.",
                          "1.00",
                          ":00",
                          "00:",
                          "00:00:",
                          "00::00",
                          "100:00:00",
                          "00:00:00:00",
                          "1d 00:00",
                          "1e3s",
                          "1.5s",
                          "\xd9\xa1s"}) {
    BOOST_TEST_INFO("input: \"" << bad << "\"");
    BOOST_TEST(ms(bad) == -1);
  }
}

BOOST_AUTO_TEST_CASE(overflow_is_refused) {
  BOOST_TEST(ms("99999999999999999999s") == -1);
  BOOST_TEST(ms("9223372036854775807ms") == -1);
  BOOST_TEST(ms("100000000w") == -1);
  BOOST_TEST(ms("999999999.00:00:00") == -1);
  // TimeSpan.MaxValue's whole milliseconds still parse; one more does not.
  BOOST_TEST(ms("922337203685477ms") == 922337203685477);
  BOOST_TEST(ms("922337203685478ms") == -1);
  BOOST_TEST(ms("10675199.02:48:05.477") == 922337203685477);
  BOOST_TEST(ms("10675199.02:48:05.478") == -1);
}

BOOST_AUTO_TEST_SUITE_END()
