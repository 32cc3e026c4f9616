#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE task_files_tests
#include <boost/test/unit_test.hpp>
