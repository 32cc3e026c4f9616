#pragma once
// JSON documents of the Management API (field names as nomad-iis uses them).

#include <string>
#include <vector>

#include "messages/management.hpp"

namespace nomad_iis::http {

std::string status_json(const msg::site_status& s);
std::string alloc_list_json(const std::vector<msg::task_summary>& tasks);
std::string debug_json(const msg::debug_info& info);

}  // namespace nomad_iis::http
