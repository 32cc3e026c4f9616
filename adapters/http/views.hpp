#pragma once
// JSON documents of the Management API (field names as nomad-iis uses them).

#include <string>
#include <vector>

#include "messages/files.hpp"
#include "messages/management.hpp"

namespace nomad_iis::http {

std::string status_json(const msg::site_status& s);
std::string alloc_list_json(const std::vector<msg::task_summary>& tasks);
std::string debug_json(const msg::debug_info& info);
/// A folder's entries (GET fs/{path}?list=true); names that are not UTF-8
/// are left out, JSON cannot carry them.
std::string listing_json(const msg::folder_listing& listing);

}  // namespace nomad_iis::http
