#pragma once
// Logging for the plugin: every line on stderr is one hclog JSON object, so
// the Nomad agent files it at the right level (PROTOCOL.md §1.6).

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace nomad_iis::logging {

/// Key/value pairs that become extra fields of the JSON line.
using fields = std::vector<std::pair<std::string, std::string>>;

/// Installs the hclog JSON sink on stderr as spdlog's default logger.
/// `level` is one of trace, debug, info, warn, error.
void init(std::string_view level = "info");

/// A named logger whose lines carry `"@module": "nomad_iis.<module>"`.
std::shared_ptr<spdlog::logger> get(const std::string& module);

/// Logs `message` with extra fields; values pass through redact() first.
void log(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
         const fields& extra = {});

/// Registers a secret (API key, password, JWT secret): any log line that would
/// contain it shows "[redacted]" instead.
void add_secret(std::string secret);

/// Replaces every registered secret in `text`.
std::string redact(std::string text);

/// Formats one hclog JSON line (without newline); exposed for tests.
std::string format_line(spdlog::level::level_enum level, std::string_view module,
                        std::string_view message, const fields& extra);

}  // namespace nomad_iis::logging
