#include "iis/inspect/procdump.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "iis/files/temp_dir.hpp"
#include "iis/inspect/inspect_error.hpp"
#include "iis/process.hpp"

extern char** environ;

namespace nomad_iis::inspect {

core_dump::core_dump() = default;
core_dump::~core_dump() = default;
core_dump::core_dump(core_dump&&) noexcept = default;
core_dump& core_dump::operator=(core_dump&&) noexcept = default;

core_dump dump_process(const std::string& tool, std::int32_t pid,
                       std::chrono::milliseconds timeout) {
  if (tool.empty() || tool.front() != '/' || ::access(tool.c_str(), X_OK) != 0)
    throw inspect_error(inspect_errc::unavailable, "procdump_unavailable",
                        "the dump tool " + tool + " is not installed");
  core_dump dump;
  dump.dir = std::make_unique<files::scoped_temp_dir>("nomad-iis-dump-");
  auto prefix = *dump.dir / "core";
  iis::spawn_request request;
  request.path = tool;
  request.args = {tool, "-o", prefix, std::to_string(pid)};
  // gcore is a script that finds bash and gdb on PATH: it gets our environment.
  for (char** entry = environ; *entry; ++entry) request.env.emplace_back(*entry);
  iis::run_result r;
  try {
    r = iis::run_to_end(request, timeout);
  } catch (const std::exception& e) {
    throw inspect_error(inspect_errc::unavailable, "procdump_unavailable",
                        "cannot start " + tool + ": " + e.what());
  }
  if (r.timed_out)
    throw inspect_error(inspect_errc::timeout, "procdump_timeout",
                        "the dump did not finish in time");
  dump.path = prefix + "." + std::to_string(pid);
  struct stat st {};
  if (::stat(dump.path.c_str(), &st) != 0 || st.st_size == 0) {
    auto tail = r.output.size() > 300 ? r.output.substr(r.output.size() - 300) : r.output;
    throw inspect_error(inspect_errc::failed, "procdump_failed",
                        "gcore ended with " + iis::describe(r.status) + ": " + tail);
  }
  dump.size = static_cast<std::uint64_t>(st.st_size);
  return dump;
}

}  // namespace nomad_iis::inspect
