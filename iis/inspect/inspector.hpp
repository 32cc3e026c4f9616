#pragma once
// What a task actor needs to look inside its task for the Management API: a
// screenshot of its site, a core dump of a pool's worker, and the account
// browsers run as. Every call blocks (a browser, gcore, useradd), so the
// task makes them on its tool workers; given to the driver by whoever links
// iis/inspect (adapters/main.cpp), a fake in the actor tests.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "iis/inspect/procdump.hpp"
#include "iis/inspect/screenshot.hpp"

namespace nomad_iis::inspect {

struct inspector {
  /// The PNG of `req`; throws inspect_error.
  std::function<std::string(const screenshot_request& req)> screenshot;
  /// A dump of `pid` with the gcore at `tool`; throws inspect_error. (Shared:
  /// the file goes with the last owner, wherever that is.)
  std::function<std::shared_ptr<core_dump>(const std::string& tool, std::int32_t pid,
                                           std::chrono::milliseconds timeout)>
      dump;
  /// Who browsers run as (empty: the plugin's own user).
  browser_account_source browser_account;
};

}  // namespace nomad_iis::inspect
