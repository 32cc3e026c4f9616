#pragma once
// What the task files module threw, for the tests of tests/files/.

#include <functional>
#include <string>

#include "iis/files/file_error.hpp"

namespace nomad_iis::files::test {

/// The kind of file_error `f` throws ("bad_request"), "ok" when none.
inline std::string kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const file_error& e) {
    return to_string(e.kind());
  }
  return "ok";
}

/// "kind code: message" of the file_error `f` throws, "ok" when none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const file_error& e) {
    return std::string(to_string(e.kind())) + " " + e.code() + ": " + e.what();
  }
  return "ok";
}

}  // namespace nomad_iis::files::test
