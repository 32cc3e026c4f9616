#include "iis/files/file_error.hpp"

namespace nomad_iis::files {

const char* to_string(file_errc kind) {
  switch (kind) {
    case file_errc::bad_request:
      return "bad_request";
    case file_errc::forbidden:
      return "forbidden";
    case file_errc::not_found:
      return "not_found";
    case file_errc::conflict:
      return "conflict";
    case file_errc::length_required:
      return "length_required";
    case file_errc::too_large:
      return "too_large";
    case file_errc::no_space:
      return "no_space";
    case file_errc::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace nomad_iis::files
