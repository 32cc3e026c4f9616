// Every encoding a "number" attribute may arrive in (PROTOCOL.md §7.2): the
// smallest int, any fixed int width, float64 (or float32) holding a whole
// value, and go-cty's decimal strings for values neither int64 nor float64.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "config/driver_config.hpp"
#include "config/task_config.hpp"
#include "test_support.hpp"

namespace cfg = nomad_iis::config;
using config_test::expect_config_error;
using config_test::node;

namespace {

std::string task_with_queue_length(node value) {
  node doc = config_test::task();
  node pool = config_test::pool();
  pool["queue_length"] = std::move(value);
  doc["application_pools"].list().push_back(std::move(pool));
  return config_test::pack(doc);
}

std::int64_t queue_length(node value) {
  return cfg::decode_task_config(task_with_queue_length(std::move(value)))
      .application_pools.at(0)
      .queue_length.value();
}

std::string queue_length_error(node value, const std::string& needle) {
  const std::string bytes = task_with_queue_length(std::move(value));
  return expect_config_error([&] { cfg::decode_task_config(bytes); },
                             "application_pool[0].queue_length", needle);
}

cfg::driver_config driver_with(const std::string& key, node value) {
  node doc = config_test::driver();
  doc[key] = std::move(value);
  return cfg::decode_driver_config(config_test::pack(doc));
}

void driver_fails(const std::string& key, node value, const std::string& needle) {
  node doc = config_test::driver();
  doc[key] = std::move(value);
  const std::string bytes = config_test::pack(doc);
  expect_config_error([&] { cfg::decode_driver_config(bytes); }, key, needle);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(number_encodings)

BOOST_AUTO_TEST_CASE(every_integer_width) {
  BOOST_TEST(config_test::pack(100).size() == 1u);  // positive fixint
  BOOST_TEST(queue_length(100) == 100);
  BOOST_TEST(queue_length(200) == 200);    // uint8
  BOOST_TEST(queue_length(5000) == 5000);  // uint16
  BOOST_TEST(queue_length(config_test::fix_uint8(100)) == 100);
  BOOST_TEST(queue_length(config_test::fix_uint16(100)) == 100);
  BOOST_TEST(queue_length(config_test::fix_uint32(1000)) == 1000);
  BOOST_TEST(queue_length(config_test::fix_uint64(65535)) == 65535);
  BOOST_TEST(queue_length(config_test::fix_int8(100)) == 100);
  BOOST_TEST(queue_length(config_test::fix_int16(300)) == 300);
  BOOST_TEST(queue_length(config_test::fix_int32(40000)) == 40000);
  BOOST_TEST(queue_length(config_test::fix_int64(65535)) == 65535);
}

BOOST_AUTO_TEST_CASE(floats_holding_whole_values) {
  BOOST_TEST(queue_length(1000.0) == 1000);
  BOOST_TEST(queue_length(config_test::float32(1000.0f)) == 1000);
  const std::string message = queue_length_error(1.5, "1.5 is not a whole number");
  BOOST_TEST(message == "application_pool[0].queue_length: 1.5 is not a whole number");
  queue_length_error(1000.25, "is not a whole number");
  queue_length_error(std::numeric_limits<double>::infinity(), "is not a finite number");
  queue_length_error(-std::numeric_limits<double>::infinity(), "is not a finite number");
  queue_length_error(std::nan(""), "is not a finite number");
  queue_length_error(1e300, "is out of range");
}

BOOST_AUTO_TEST_CASE(decimal_strings) {
  BOOST_TEST(queue_length("5000") == 5000);
  BOOST_TEST(queue_length("5000.000") == 5000);
  BOOST_TEST(queue_length("000123") == 123);
  queue_length_error("12.5", "12.5 is not a whole number");
  queue_length_error(std::string("1") + std::string(100, '0'), "is out of range");
  queue_length_error("-" + std::string(30, '9'), "is out of range");
  queue_length_error("1e3", "expected a number, got the string \"1e3\"");
  queue_length_error("", "expected a number");
  queue_length_error("-", "expected a number");
  queue_length_error(".5", "expected a number");
  queue_length_error("5.", "expected a number");
  queue_length_error(" 5", "expected a number");
}

BOOST_AUTO_TEST_CASE(range_is_checked_after_decoding) {
  queue_length_error(5, "must be between 10 and 65535, got 5");
  queue_length_error(70000, "must be between 10 and 65535, got 70000");
  queue_length_error(-1, "got -1");  // negative fixint
  queue_length_error(config_test::fix_int8(-100), "got -100");
  queue_length_error(config_test::fix_int64(std::numeric_limits<std::int64_t>::min()),
                     "got -9223372036854775808");
  queue_length_error(config_test::fix_uint64(std::numeric_limits<std::uint64_t>::max()),
                     "got 18446744073709551615");
  queue_length_error(-20.0, "got -20");
  queue_length_error("-20", "got -20");
}

BOOST_AUTO_TEST_CASE(unsigned_64_bit_options) {
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  BOOST_TEST(driver_with("upload_max_bytes", config_test::fix_uint64(max)).upload_max_bytes == max);
  BOOST_TEST(driver_with("upload_max_bytes", "18446744073709551615").upload_max_bytes == max);
  BOOST_TEST(driver_with("upload_max_bytes", 1e19).upload_max_bytes == 10000000000000000000ull);
  BOOST_TEST(driver_with("zip_max_entries", config_test::fix_int16(7)).zip_max_entries == 7u);
  driver_fails("upload_max_bytes", "18446744073709551616", "is out of range");
  driver_fails("upload_max_bytes", 18446744073709551616.0, "is out of range");
  driver_fails("upload_max_bytes", -1, "must be between 1 and 18446744073709551615, got -1");
  driver_fails("zip_max_entries", 0, "must be between 1 and");
  driver_fails("zip_max_uncompressed_bytes", 2.5, "is not a whole number");
}

BOOST_AUTO_TEST_CASE(signed_options) {
  BOOST_TEST(
      driver_with("rapid_fail_max_crashes", config_test::fix_int64(9)).rapid_fail_max_crashes == 9);
  BOOST_TEST(driver_with("screenshot_concurrency", 64.0).screenshot_concurrency == 64);
  driver_fails("screenshot_concurrency", 65, "must be between 1 and 64, got 65");
  driver_fails("procdump_concurrency", 0, "must be between 1 and 64, got 0");
  driver_fails("rapid_fail_max_crashes", config_test::fix_int32(-3), "got -3");
  driver_fails("rapid_fail_max_crashes", "many", "expected a number");
}

BOOST_AUTO_TEST_SUITE_END()
