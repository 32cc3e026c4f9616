# Tests of the task files module (iis/files, nomad_iis_task_files) on real
# folders: resolution, guarded folders, staging and swaps, merges, deletes,
# uploads' filesystem steps, and a folder/link swap race against them all.
# Included by tests/files/CMakeLists.txt, which the zip tests share.
add_executable(task_files_tests
  task_files_main.cpp
  task_tree_test.cpp
  swap_test.cpp
  remove_test.cpp
  staged_upload_test.cpp
  race_test.cpp
  listing_test.cpp)
target_link_libraries(task_files_tests PRIVATE nomad_iis_task_files Boost::unit_test_framework
  ${ACL_LIBRARY})
add_test(NAME task_files_tests COMMAND task_files_tests)
set_tests_properties(task_files_tests PROPERTIES TIMEOUT 120)
