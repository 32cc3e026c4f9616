// common/system_info: the kernel settings the plugin checks at start-up.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "common/system_info.hpp"

using namespace nomad_iis;

BOOST_AUTO_TEST_CASE(kernel_protections_are_read_from_proc_sys) {
  char tmpl[] = "/tmp/proc-sys-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  ::mkdir((dir + "/fs").c_str(), 0755);
  auto set = [&](const char* value) { std::ofstream(dir + "/fs/protected_hardlinks") << value; };
  set("1\n");
  BOOST_TEST(system_info::missing_kernel_protections(dir).empty());
  set("0\n");
  auto missing = system_info::missing_kernel_protections(dir);
  BOOST_TEST_REQUIRE(missing.size() == 1u);
  BOOST_TEST(missing[0].find("fs.protected_hardlinks") != std::string::npos);
  std::remove((dir + "/fs/protected_hardlinks").c_str());
  BOOST_TEST(system_info::missing_kernel_protections(dir).size() == 1u);  // unreadable = off
  ::rmdir((dir + "/fs").c_str());
  ::rmdir(dir.c_str());
}

BOOST_AUTO_TEST_CASE(boot_time_plus_start_ticks_is_when_a_process_started) {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i < 22; ++i) rest >> field;  // up to field 21; field 22 is starttime
  unsigned long long ticks = 0;
  rest >> ticks;
  const auto started = system_info::boot_time() +
                       static_cast<std::int64_t>(ticks) / system_info::clock_ticks_per_second();
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  BOOST_TEST(system_info::boot_time() > 1'500'000'000);
  BOOST_TEST(started <= now + 1);
  BOOST_TEST(started >= now - 600);  // this test started moments ago
}
