#pragma once
// Owns an acl_t (libacl): freed when it goes out of scope.

#include <sys/acl.h>

namespace nomad_iis::iis {

struct acl_holder {
  acl_t acl = nullptr;
  acl_holder() = default;
  explicit acl_holder(acl_t owned) : acl(owned) {}
  acl_holder(const acl_holder&) = delete;
  acl_holder& operator=(const acl_holder&) = delete;
  ~acl_holder() {
    if (acl) acl_free(acl);
  }
};

}  // namespace nomad_iis::iis
