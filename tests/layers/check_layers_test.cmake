# The layer check (cmake/check_layers.cmake) against small trees: each bad
# include fails the check with a message naming file, line and include; a
# clean tree and the repository itself pass.
#
#   cmake -DCHECK=<check_layers.cmake> -DSOURCE=<repo> -DWORK=<scratch dir>
#         -DREPOSITORY_PORT=<the project's port headers, comma separated> -P check_layers_test.cmake
cmake_minimum_required(VERSION 3.20)

set(port "iis/model.hpp,iis/backend.hpp,iis/failure.hpp")
set(failures 0)

# A tree with the four layers holding harmless files, plus `rel` = `content`.
function(make_tree dir rel content)
  file(REMOVE_RECURSE "${dir}")
  file(WRITE "${dir}/actors/ok.cpp" "#include \"actors/ok.hpp\"\n#include \"iis/backend.hpp\"\n#include <caf/all.hpp>\n")
  file(WRITE "${dir}/messages/ok.hpp" "#pragma once\n#include \"iis/failure.hpp\"\n#include <string>\n")
  file(WRITE "${dir}/config/ok.hpp" "#pragma once\n// Poco/Net is not included here: comments do not count.\n#include \"common/logging.hpp\"\n")
  file(WRITE "${dir}/iis/ok.cpp" "#include \"iis/model.hpp\"\n#include <openssl/ssl.h>\n")
  file(WRITE "${dir}/adapters/grpc/ok.cpp" "#include <grpcpp/grpcpp.h>\n#include \"nomad/drivers/driver.pb.h\"\n#include <Poco/Net/HTTPServer.h>\n#include \"iis/site_core.hpp\"\n")
  if(rel)
    file(WRITE "${dir}/${rel}" "${content}")
  endif()
endfunction()

# Runs the check on `dir`; `want` is PASS or FAIL; on FAIL the output must
# contain every string in ARGN.
function(expect name dir want)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DROOT=${dir} -DPORT_HEADERS=${port} -P "${CHECK}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(all "${out}${err}")
  set(ok TRUE)
  if(want STREQUAL "PASS" AND NOT rc EQUAL 0)
    set(ok FALSE)
  elseif(want STREQUAL "FAIL")
    if(rc EQUAL 0)
      set(ok FALSE)
    endif()
    foreach(part IN LISTS ARGN)
      string(FIND "${all}" "${part}" at)
      if(at EQUAL -1)
        message(NOTICE "${name}: output lacks \"${part}\"")
        set(ok FALSE)
      endif()
    endforeach()
  endif()
  if(ok)
    message(STATUS "ok   ${name}")
  else()
    message(NOTICE "FAIL ${name}: wanted ${want}, exit code ${rc}:\n${all}")
    math(EXPR n "${failures} + 1")
    set(failures ${n} PARENT_SCOPE)
  endif()
endfunction()

set(tree "${WORK}/tree")

make_tree("${tree}" "" "")
expect("clean tree" "${tree}" PASS)

make_tree("${tree}" "actors/bad.cpp" "#include <vector>\n\n#include <grpcpp/grpcpp.h>\n")
expect("grpcpp in actors" "${tree}" FAIL "actors/bad.cpp:3:" "#include <grpcpp/grpcpp.h>" "adapters/grpc")

make_tree("${tree}" "messages/bad.hpp" "#pragma once\n#  include \"google/protobuf/message.h\"\n")
expect("protobuf in messages" "${tree}" FAIL "messages/bad.hpp:2:" "google/protobuf/message.h")

make_tree("${tree}" "config/bad.cpp" "#include \"nomad/drivers/driver.pb.h\"\n")
expect("generated stub in config" "${tree}" FAIL "config/bad.cpp:1:" "driver.pb.h")

make_tree("${tree}" "iis/sub/bad.cpp" "// the engine\n#include <Poco/Net/HTTPServer.h>\n")
expect("Poco in iis" "${tree}" FAIL "iis/sub/bad.cpp:2:" "#include <Poco/Net/HTTPServer.h>" "Poco belongs in adapters/")

make_tree("${tree}" "actors/bad.hpp" "#pragma once\n#include <grpc/grpc.h>\n")
expect("grpc core in actors" "${tree}" FAIL "actors/bad.hpp:2:" "grpc/grpc.h")

make_tree("${tree}" "actors/bad.cpp" "#include \"iis/site_core.hpp\"\n")
expect("backend header in actors" "${tree}" FAIL "actors/bad.cpp:1:" "iis/site_core.hpp" "iis/ port")

make_tree("${tree}" "config/bad.hpp" "#include \"messages/error.hpp\"\n")
expect("config includes upwards" "${tree}" FAIL "config/bad.hpp:1:" "messages/error.hpp")

make_tree("${tree}" "iis/bad.cpp" "#include \"adapters/http/paths.hpp\"\n")
expect("iis includes an adapter" "${tree}" FAIL "iis/bad.cpp:1:" "adapters/http/paths.hpp")

make_tree("${tree}" "actors/tools.txt" "#include <Poco/Foundation.h>\n")
expect("only sources are scanned" "${tree}" PASS)

# The repository against the port it declares (NOMAD_IIS_PORT_HEADERS).
if(NOT REPOSITORY_PORT)
  message(FATAL_ERROR "-DREPOSITORY_PORT=<port headers> is required")
endif()
set(scratch_port "${port}")
set(port "${REPOSITORY_PORT}")
expect("the repository" "${SOURCE}" PASS)
set(port "${scratch_port}")

# A relative ROOT, as typed by hand from the source dir.
make_tree("${tree}" "iis/bad.cpp" "#include <Poco/Path.h>\n")
file(RELATIVE_PATH relative_tree "${CMAKE_CURRENT_BINARY_DIR}" "${tree}")
expect("relative root" "${relative_tree}" FAIL "iis/bad.cpp:1:" "Poco/Path.h")

file(REMOVE_RECURSE "${tree}")
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} layer check case(s) failed")
endif()
