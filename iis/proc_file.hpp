#pragma once
// Reading /proc without exceptions. A process can exit between open() and
// read(); read() then fails (ESRCH), and libstdc++'s filebuf turns a failed
// read into a thrown std::ios_failure whatever the stream's exception mask.
// On a backend thread that would abort the plugin, so /proc goes through here.

#include <optional>
#include <string>

namespace nomad_iis::iis {

/// The whole file, or nullopt when it cannot be opened or read.
std::optional<std::string> read_small_file(const std::string& path);

}  // namespace nomad_iis::iis
