#include "iis/linux_site_host.hpp"

#include "iis/linux_backend.hpp"

namespace nomad_iis::iis {

std::shared_ptr<site_host> make_linux_site_host() {
  return std::make_shared<linux_site_host>();
}

}  // namespace nomad_iis::iis
