#include "adapters/browser_user.hpp"

#include <unistd.h>

#include "iis/unix_users.hpp"

namespace nomad_iis {

inspect::browser_account_source make_browser_account_source() {
  return []() -> std::optional<inspect::run_as> {
    if (::geteuid() != 0) return std::nullopt;
    const auto account =
        iis::ensure_managed_user(browser_user_name, iis::managed_user_comment("screenshots"));
    return inspect::run_as{account.uid, account.gid};
  };
}

}  // namespace nomad_iis
