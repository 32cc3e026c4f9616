#pragma once
// The Content-Disposition of a download, screenshot or dump.

#include <string>

namespace nomad_iis::http {

/// An attachment named `filename` (ASCII fallback plus RFC 5987).
std::string content_disposition(const std::string& filename);

}  // namespace nomad_iis::http
