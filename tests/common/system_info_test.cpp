// common/system_info: the kernel settings the plugin checks at start-up.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
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
