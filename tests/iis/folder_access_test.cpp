#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <acl/libacl.h>
#include <fcntl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/beneath.hpp"
#include "iis/folder_access.hpp"
#include "test_support.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

/// The ACL of `path` as short text ("u::rwx,u:12345:r-x,...").
std::string acl_text(const std::string& path, acl_type_t type) {
  acl_t acl = acl_get_file(path.c_str(), type);
  if (!acl) return "(none)";
  char* text = acl_to_any_text(acl, nullptr, ',', TEXT_NUMERIC_IDS | TEXT_ABBREVIATE);
  std::string out = text ? text : "";
  acl_free(text);
  acl_free(acl);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(folder_access)

BOOST_AUTO_TEST_CASE(grants_add_a_named_entry_and_inherit_without_widening_others) {
  temp_dir root;
  const std::string dir = root.path() + "/open";
  ::mkdir(dir.c_str(), 0777);
  ::chmod(dir.c_str(), 0777);  // as Nomad leaves local/
  const unique_fd fd = open_directory(dir);
  BOOST_REQUIRE(fd);
  BOOST_REQUIRE(grant_user_access(fd.get(), 71999, acl_read | acl_execute, true));
  BOOST_TEST(acl_text(dir, ACL_TYPE_ACCESS) == "u::rwx,u:71999:r-x,g::rwx,m::rwx,o::rwx");
  // New files: the pool's user reads them; others get no more than a umask of 022 gives.
  BOOST_TEST(acl_text(dir, ACL_TYPE_DEFAULT) == "u::rwx,u:71999:r-x,g::r-x,m::r-x,o::r-x");
  const std::string file = dir + "/new.txt";
  std::ofstream(file) << "x";
  struct stat st {};
  ::stat(file.c_str(), &st);
  BOOST_TEST((st.st_mode & 0777) == 0644u);
  // (the named entry and the group pass only what the mask, from the file's mode, lets through)
  BOOST_TEST(acl_text(file, ACL_TYPE_ACCESS) == "u::rw-,u:71999:r-x,g::r-x,m::r--,o::r--");

  // Rights are only ever added: a later read grant keeps write.
  const unique_fd file_fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_REQUIRE(grant_user_access(file_fd.get(), 71999, acl_read | acl_write, false));
  BOOST_REQUIRE(grant_user_access(file_fd.get(), 71999, acl_read, false));
  // The mask gains only what was granted: the group still gets r-- only.
  BOOST_TEST(acl_text(file, ACL_TYPE_ACCESS) == "u::rw-,u:71999:rwx,g::r-x,m::rw-,o::r--");
  ::stat(file.c_str(), &st);
  BOOST_TEST(st.st_uid == ::geteuid());  // owner unchanged
}

/// A file created in a folder with a default ACL inherits the pool's entry,
/// but its mask comes from the mode it was created with (0644: r--). A grant
/// must open the mask even though the entry already holds the rights.
BOOST_AUTO_TEST_CASE(an_inherited_entry_masked_by_the_create_mode_gets_its_rights) {
  temp_dir root;
  const std::string dir = root.path() + "/site";
  ::mkdir(dir.c_str(), 0770);
  const unique_fd fd = open_directory(dir);
  BOOST_REQUIRE(grant_user_access(fd.get(), 71999, acl_read | acl_write | acl_execute, true));
  const std::string file = dir + "/uploaded.txt";
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));  // as an upload does
  BOOST_TEST(acl_text(file, ACL_TYPE_ACCESS) == "u::rw-,u:71999:rwx,g::r-x,m::r--,o::---");
  const unique_fd file_fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_REQUIRE(grant_user_access(file_fd.get(), 71999, acl_read | acl_write, false));
  BOOST_TEST(acl_text(file, ACL_TYPE_ACCESS) == "u::rw-,u:71999:rwx,g::r-x,m::rw-,o::---");
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
