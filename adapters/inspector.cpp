#include "adapters/inspector.hpp"

#include <unistd.h>

#include <memory>

#include "iis/unix_users.hpp"

namespace nomad_iis {

inspect::inspector make_inspector() {
  inspect::inspector tools;
  tools.screenshot = [](const inspect::screenshot_request& req) {
    return inspect::take_screenshot(req);
  };
  tools.dump = [](const std::string& tool, std::int32_t pid, std::chrono::milliseconds timeout) {
    return std::make_shared<inspect::core_dump>(inspect::dump_process(tool, pid, timeout));
  };
  tools.browser_account = []() -> std::optional<inspect::run_as> {
    if (::geteuid() != 0) return std::nullopt;
    const auto account =
        iis::ensure_managed_user(browser_user_name, iis::managed_user_comment("screenshots"));
    return inspect::run_as{account.uid, account.gid};
  };
  return tools;
}

}  // namespace nomad_iis
