#include "adapters/http/procdump.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "adapters/http/http_error.hpp"
#include "adapters/http/subprocess.hpp"
#include "adapters/http/temp_dir.hpp"

namespace nomad_iis::http {

core_dump::core_dump() = default;
core_dump::~core_dump() = default;
core_dump::core_dump(core_dump&&) noexcept = default;
core_dump& core_dump::operator=(core_dump&&) noexcept = default;

core_dump dump_process(const std::string& tool, std::int32_t pid,
                       std::chrono::milliseconds timeout) {
  if (tool.empty() || tool.front() != '/' || ::access(tool.c_str(), X_OK) != 0)
    throw http_error(503, "procdump_unavailable", "the dump tool " + tool + " is not installed");
  core_dump dump;
  dump.dir = std::make_unique<scoped_temp_dir>("nomad-iis-dump-");
  auto prefix = *dump.dir / "core";
  auto r = run_subprocess({tool, "-o", prefix, std::to_string(pid)}, {}, timeout,
                          *dump.dir / "stderr.log");
  if (!r.started) throw http_error(503, "procdump_unavailable", r.error);
  if (r.timed_out) throw http_error(504, "procdump_timeout", "the dump did not finish in time");
  dump.path = prefix + "." + std::to_string(pid);
  struct stat st {};
  if (::stat(dump.path.c_str(), &st) != 0 || st.st_size == 0) {
    auto tail = r.stderr_tail.size() > 300 ? r.stderr_tail.substr(r.stderr_tail.size() - 300)
                                           : r.stderr_tail;
    throw http_error(502, "procdump_failed",
                     "gcore exited with " + std::to_string(r.exit_code) + ": " + tail);
  }
  dump.size = static_cast<std::uint64_t>(st.st_size);
  return dump;
}

}  // namespace nomad_iis::http
