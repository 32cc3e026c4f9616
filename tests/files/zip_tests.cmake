# Zip extraction pushed a chunk at a time and folder zips pulled a chunk at
# a time (iis/files), against archives made by python3's zipfile, zip and
# unzip. Included by tests/files/CMakeLists.txt.
add_executable(files_tests main_test.cpp zip_extractor_test.cpp folder_zip_stream_test.cpp)
target_link_libraries(files_tests PRIVATE nomad_iis_task_files nomad_iis_common
  Boost::unit_test_framework Threads::Threads)
add_test(NAME files_tests COMMAND files_tests)
set_tests_properties(files_tests PROPERTIES TIMEOUT 180)
