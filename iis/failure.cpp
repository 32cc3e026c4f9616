#include "iis/failure.hpp"

namespace nomad_iis::iis {

const char* to_string(errc code) {
  switch (code) {
    case errc::invalid_config:
      return "invalid_config";
    case errc::port_in_use:
      return "port_in_use";
    case errc::process_failed:
      return "process_failed";
    case errc::io_failure:
      return "io_failure";
    case errc::not_found:
      return "not_found";
  }
  return "unknown";
}

errc code_of(const std::exception& e, errc otherwise) {
  if (const auto* typed = dynamic_cast<const backend_error*>(&e)) return typed->code();
  return otherwise;
}

failure failure_of(const std::exception& e, errc otherwise) {
  return failure{code_of(e, otherwise), e.what()};
}

}  // namespace nomad_iis::iis
