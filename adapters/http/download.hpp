#pragma once
// GET of a file (streamed as application/octet-stream with its name) or a
// folder (a zip built while it streams, chunked, Fastest compression,
// symlinks skipped, memory bounded by fixed buffers).

#include <ostream>
#include <string>

#include "iis/files/task_tree.hpp"

namespace Poco::Net {
class HTTPServerResponse;
}

namespace nomad_iis::http {

/// A Content-Disposition value for `filename` (ASCII fallback plus RFC 5987).
std::string content_disposition(const std::string& filename);

/// Streams the file or folder `target` resolves to, read through the
/// descriptors resolution produced. Folders leave out what `root` guards
/// (secrets/ unless allowed, private/). Throws http_error or
/// files::file_error before the
/// response starts; after that, a failure throws std::runtime_error and the
/// caller must cut the connection.
void send_download(const files::task_root& root, const files::resolved_path& target,
                   const std::string& display_name, Poco::Net::HTTPServerResponse& response);

/// Writes a zip of the folder `dir_fd` to `out` (the walk the folder
/// download uses; `root` may be null: nothing guarded).
void write_folder_zip(int dir_fd, const files::task_root* root, std::ostream& out);

}  // namespace nomad_iis::http
