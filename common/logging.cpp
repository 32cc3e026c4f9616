#include "common/logging.hpp"

#include <cctype>
#include <chrono>
#include <ctime>
#include <mutex>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace nomad_iis::logging {
namespace {

/// Extra fields of the line being logged on this thread (set by log()).
thread_local const fields* pending_fields = nullptr;

std::mutex secrets_mutex;
std::vector<std::string> secrets;

const char* level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    default:
      return "error";
  }
}

/// hclog's timestamp layout: 2006-01-02T15:04:05.000000Z07:00, in UTC.
std::string timestamp(std::chrono::system_clock::time_point tp) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(tp);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(tp - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", static_cast<long>(micros));
  return buf;
}

std::string format_at(spdlog::level::level_enum level, std::string_view module,
                      std::string_view message, const fields& extra,
                      std::chrono::system_clock::time_point tp) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  str("@level");
  str(level_name(level));
  str("@message");
  str(redact(std::string(message)));
  str("@module");
  str(module);
  str("@timestamp");
  str(timestamp(tp));
  for (const auto& [key, value] : extra) {
    if (key.empty() || key[0] == '@') continue;
    str(key);
    str(redact(value));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

class hclog_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    static const fields none;
    std::string_view module(msg.logger_name.data(), msg.logger_name.size());
    auto line = format_at(msg.level, module.empty() ? "nomad_iis" : module,
                          std::string_view(msg.payload.data(), msg.payload.size()),
                          pending_fields ? *pending_fields : none, msg.time);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<hclog_formatter>();
  }
};

std::shared_ptr<spdlog::sinks::stderr_sink_mt> shared_sink() {
  static auto sink = [] {
    auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s->set_formatter(std::make_unique<hclog_formatter>());
    return s;
  }();
  return sink;
}

}  // namespace

void init(std::string_view level) {
  auto root = std::make_shared<spdlog::logger>("nomad_iis", shared_sink());
  root->set_level(spdlog::level::from_str(std::string(level)));
  root->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(root);
}

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  auto name = "nomad_iis." + module;
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, shared_sink());
  logger->set_level(spdlog::default_logger()->level());
  logger->flush_on(spdlog::level::trace);
  spdlog::register_logger(logger);
  return spdlog::get(name);
}

void log(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
         const fields& extra) {
  pending_fields = &extra;
  logger.log(level, "{}", message);
  pending_fields = nullptr;
}

void add_secret(std::string secret) {
  if (secret.empty()) return;
  std::lock_guard<std::mutex> lock(secrets_mutex);
  secrets.push_back(std::move(secret));
}

namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '+' || c == '/' || c == '=';
}

/// A secret counts only where it stands alone: "k" must not blank every "k"
/// of a log line, but "--key=k" or "key k." still hide it. The '=' of an
/// option is a separator when it comes before the secret.
bool stands_alone(const std::string& text, std::size_t pos, std::size_t len) {
  bool left = pos == 0 || text[pos - 1] == '=' || !is_token_char(text[pos - 1]);
  bool right = pos + len >= text.size() || !is_token_char(text[pos + len]);
  return left && right;
}

}  // namespace

std::string redact(std::string text) {
  static const std::string mask = "[redacted]";
  std::lock_guard<std::mutex> lock(secrets_mutex);
  for (const auto& secret : secrets) {
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      if (stands_alone(text, pos, secret.size())) {
        text.replace(pos, secret.size(), mask);
        pos += mask.size();
      } else {
        pos += 1;
      }
    }
  }
  return text;
}

std::string format_line(spdlog::level::level_enum level, std::string_view module,
                        std::string_view message, const fields& extra) {
  return format_at(level, module, message, extra, std::chrono::system_clock::now());
}

}  // namespace nomad_iis::logging
