// iis/unix_users: the users the plugin makes for itself (needs root).

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include "iis/unix_users.hpp"

using namespace nomad_iis::iis;

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(unix_users)

BOOST_AUTO_TEST_CASE(pool_user_names_are_stable_and_distinct) {
  const auto a = pool_user_name("alloc-1", "web", "default");
  BOOST_TEST(a == pool_user_name("alloc-1", "web", "default"));
  BOOST_TEST(a != pool_user_name("alloc-2", "web", "default"));
  BOOST_TEST(a != pool_user_name("alloc-1", "web", "other"));
  BOOST_TEST(a.size() == 16u);
  BOOST_TEST(a.rfind("iis-", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(created_once_kept_and_removed_only_when_ours) {
  if (::geteuid() != 0) return;  // only root manages users
  const std::string name = pool_user_name("unit-test", std::to_string(::getpid()), "p");
  const auto comment = managed_user_comment("unit test");
  const uid_range range{71000, 79999};
  const auto made = ensure_managed_user(name, comment, range);
  BOOST_TEST(made.uid >= range.first);
  BOOST_TEST(made.uid <= range.last);
  BOOST_TEST(made.uid != 0u);
  BOOST_TEST(ensure_managed_user(name, comment, range).uid == made.uid);
  // Someone else's user of that name is never taken over.
  BOOST_CHECK_THROW(ensure_managed_user(name, managed_user_comment("other"), range),
                    std::runtime_error);
  BOOST_CHECK_THROW(ensure_managed_user("root", comment, range), std::runtime_error);
  BOOST_TEST(remove_managed_user("root", comment));  // not ours: left alone
  BOOST_TEST(find_account("root").has_value());
  BOOST_TEST(remove_managed_user(name, comment));
  BOOST_TEST(!find_account(name).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
