#pragma once
// JSON documents of the Management API (field names as nomad-iis uses them).

#include <cstdint>
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
std::string pool_workers_json(const msg::pool_workers& pool);
std::string open_requests_json(const msg::open_request_list& list);

/// Unix milliseconds as RFC 3339 UTC ("2026-12-06T20:30:46.120Z").
std::string rfc3339_utc(std::int64_t unix_ms);

}  // namespace nomad_iis::http
