#pragma once
// GET of a file (streamed as application/octet-stream with its name) or a
// folder (a zip built while it streams, chunked, Fastest compression,
// symlinks skipped, memory bounded by fixed buffers).

#include <string>

#include "adapters/http/paths.hpp"

namespace Poco::Net {
class HTTPServerResponse;
}

namespace nomad_iis::http {

/// A Content-Disposition value for `filename` (ASCII fallback plus RFC 5987).
std::string content_disposition(const std::string& filename);

/// Streams the file or folder at `target`. Folders skip `skip_dir` (the
/// secrets dir when it is not accessible). Throws http_error before the
/// response starts; after that, a failure throws std::runtime_error and the
/// caller must cut the connection.
void send_download(const resolved_path& target, const std::string& display_name,
                   const std::string& skip_dir, Poco::Net::HTTPServerResponse& response);

/// Writes a zip of `dir` to `out` (the same walk the folder download uses).
void write_folder_zip(const std::string& dir, const std::string& skip_dir, std::ostream& out);

}  // namespace nomad_iis::http
