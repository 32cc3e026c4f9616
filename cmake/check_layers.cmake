# The build's layer check: fails, naming file, line and include, when a file
# includes across the layers of the architecture (README, DESIGN.md):
#   - only adapters/ talk gRPC, protobuf or Poco;
#   - actors/ and messages/ see the iis/ port (PORT_HEADERS), never the Linux
#     backend: the composition root (adapters/main.cpp) links that;
#   - nothing below adapters/ includes upwards.
#
#   cmake -DROOT=<source dir> -DPORT_HEADERS=iis/model.hpp,iis/backend.hpp -P check_layers.cmake
#
# Run by the check_layers target before the libraries compile, and by the
# layers_check test against trees with and without a bad include.
cmake_minimum_required(VERSION 3.20)

if(NOT ROOT OR NOT IS_DIRECTORY "${ROOT}")
  message(FATAL_ERROR "check_layers: -DROOT=<source dir> is required")
endif()
get_filename_component(ROOT "${ROOT}" ABSOLUTE)
string(REPLACE "," ";" port_headers "${PORT_HEADERS}")

set(wire_regex "^(grpc|grpcpp|grpc\\+\\+|google/protobuf)/|\\.pb\\.h$")
set(wire_why "gRPC and protobuf belong in adapters/grpc/")
set(poco_regex "^Poco/")
set(poco_why "Poco belongs in adapters/")

set(violations 0)

# Reports every include of a file under `dir` that `check_include` refuses.
function(scan_layer dir)
  file(GLOB_RECURSE files LIST_DIRECTORIES false
       "${ROOT}/${dir}/*.hpp" "${ROOT}/${dir}/*.cpp" "${ROOT}/${dir}/*.h" "${ROOT}/${dir}/*.cc")
  list(SORT files)
  set(count ${violations})
  foreach(file IN LISTS files)
    file(RELATIVE_PATH shown "${ROOT}" "${file}")
    file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"][^>\"]+[>\"]")
    if(NOT includes)
      continue()
    endif()
    file(READ "${file}" text)
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*$" "\\1" path "${line}")
      set(why "")
      if(path MATCHES "${wire_regex}")
        set(why "${wire_why}")
      elseif(path MATCHES "${poco_regex}")
        set(why "${poco_why}")
      elseif(path MATCHES "^adapters/")
        set(why "${dir}/ must not depend on adapters/")
      elseif(dir STREQUAL "config" AND path MATCHES "^(iis|messages|actors)/")
        set(why "config/ is the bottom layer: it sees only config/ and common/")
      elseif(dir STREQUAL "iis" AND path MATCHES "^(messages|actors)/")
        set(why "iis/ knows nothing of messages/ or actors/")
      elseif(dir STREQUAL "messages" AND path MATCHES "^actors/")
        set(why "messages/ must not depend on actors/")
      elseif(dir MATCHES "^(actors|messages)$" AND path MATCHES "^iis/")
        list(FIND port_headers "${path}" in_port)
        if(in_port EQUAL -1)
          string(REPLACE ";" ", " port_text "${port_headers}")
          set(why "${dir}/ sees only the iis/ port (${port_text}); the backend is linked by the composition root")
        endif()
      endif()
      if(why)
        string(FIND "${text}" "${line}" at)
        string(SUBSTRING "${text}" 0 ${at} before)
        string(REGEX MATCHALL "\n" newlines "${before}")
        list(LENGTH newlines number)
        math(EXPR number "${number} + 1")
        string(STRIP "${line}" directive)
        message(NOTICE "${shown}:${number}: ${directive}: ${why}")
        math(EXPR count "${count} + 1")
      endif()
    endforeach()
  endforeach()
  set(violations ${count} PARENT_SCOPE)
endfunction()

foreach(layer IN ITEMS actors messages config iis)
  scan_layer(${layer})
endforeach()

if(violations GREATER 0)
  message(FATAL_ERROR "check_layers: ${violations} include(s) cross the layers (see above)")
endif()
