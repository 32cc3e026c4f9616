#pragma once
// Messages of the Management API's looks inside a task, sent to the task's
// actor: it knows the site's address and the pools' workers, runs the
// browser or gcore on its tool workers behind their gates and answers with
// the picture, or with the dump opened as a download (messages/files.hpp)
// that the adapter streams block by block. A failure comes back as a
// caf::error of the "inspect" category (messages/error.hpp).

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace nomad_iis::msg {

/// A screenshot of the site's first http binding (else its first https one).
struct take_screenshot {
  std::string path = "/";  ///< checked by the caller (inspect::screenshot_path)
  std::int32_t width = 1280;
  std::int32_t height = 720;
};

struct screenshot_taken {
  std::string png;
};

/// A core dump of the first worker of `pool`; answered with download_started.
struct take_dump {
  std::string pool;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, take_screenshot& x) {
  return f(caf::meta::type_name("take_screenshot"), x.path, x.width, x.height);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, screenshot_taken& x) {
  return f(caf::meta::type_name("screenshot_taken"), x.png);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, take_dump& x) {
  return f(caf::meta::type_name("take_dump"), x.pool);
}

}  // namespace nomad_iis::msg
