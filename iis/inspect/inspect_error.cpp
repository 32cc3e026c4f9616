#include "iis/inspect/inspect_error.hpp"

namespace nomad_iis::inspect {

const char* to_string(inspect_errc kind) {
  switch (kind) {
    case inspect_errc::bad_request:
      return "bad_request";
    case inspect_errc::failed:
      return "failed";
    case inspect_errc::unavailable:
      return "unavailable";
    case inspect_errc::timeout:
      return "timeout";
    case inspect_errc::internal:
      return "internal";
    case inspect_errc::not_found:
      return "not_found";
    case inspect_errc::conflict:
      return "conflict";
  }
  return "internal";
}

}  // namespace nomad_iis::inspect
