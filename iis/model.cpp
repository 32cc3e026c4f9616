#include "iis/model.hpp"

namespace nomad_iis::iis {

const char* to_string(pool_status status) {
  switch (status) {
    case pool_status::starting:
      return "Starting";
    case pool_status::started:
      return "Started";
    case pool_status::stopping:
      return "Stopping";
    case pool_status::stopped:
      return "Stopped";
    case pool_status::unknown:
      break;
  }
  return "Unknown";
}

}  // namespace nomad_iis::iis
