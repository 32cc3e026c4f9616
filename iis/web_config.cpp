#include "iis/web_config.hpp"

#include <pugixml.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "config/duration.hpp"

namespace nomad_iis::iis {
namespace {

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

/// Child elements are matched case-insensitively, as IIS's config system does.
pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  for (auto node : parent.children()) {
    if (node.type() == pugi::node_element && lower(node.name()) == lower(std::string(name))) {
      return node;
    }
  }
  return {};
}

pugi::xml_attribute attribute(const pugi::xml_node& node, std::string_view name) {
  for (auto attr : node.attributes()) {
    if (lower(attr.name()) == lower(std::string(name))) return attr;
  }
  return {};
}

std::optional<duration> seconds_attribute(const pugi::xml_node& node, const char* name) {
  auto attr = attribute(node, name);
  if (!attr) return std::nullopt;
  const std::string text = attr.value();
  try {
    std::size_t used = 0;
    const long value = std::stol(text, &used);
    if (used != text.size() || value < 0) throw std::invalid_argument(text);
    return std::chrono::seconds(value);
  } catch (const std::exception&) {
    throw std::runtime_error("web.config: " + std::string(name) + "=\"" + text +
                             "\" is not a number of seconds");
  }
}

bool bool_attribute(const pugi::xml_node& node, const char* name) {
  auto attr = attribute(node, name);
  return attr && lower(attr.value()) == "true";
}

/// The system.webServer sections that apply to the application root: top
/// level, or inside <location> without a path (or ".").
std::vector<pugi::xml_node> web_server_sections(const pugi::xml_node& configuration) {
  std::vector<pugi::xml_node> sections;
  for (auto node : configuration.children()) {
    if (node.type() != pugi::node_element) continue;
    const std::string name = lower(node.name());
    if (name == "system.webserver") {
      sections.push_back(node);
    } else if (name == "location") {
      const std::string path = attribute(node, "path").value();
      if (path.empty() || path == ".") {
        if (auto section = child(node, "system.webServer")) sections.push_back(section);
      }
    }
  }
  return sections;
}

process_handler read_handler(const pugi::xml_node& node, process_handler::kind type) {
  process_handler handler;
  handler.type = type;
  handler.process_path = attribute(node, "processPath").value();
  handler.arguments = attribute(node, "arguments").value();
  if (handler.process_path.empty()) {
    throw std::runtime_error(std::string("web.config: <") + handler.element_name() +
                             "> has no processPath");
  }
  for (auto variable : child(node, "environmentVariables").children()) {
    if (variable.type() != pugi::node_element) continue;
    const std::string name = attribute(variable, "name").value();
    if (name.empty()) continue;
    handler.environment.emplace_back(name, attribute(variable, "value").value());
  }
  handler.startup_time_limit = seconds_attribute(node, "startupTimeLimit");
  handler.shutdown_time_limit = seconds_attribute(node, "shutdownTimeLimit");
  if (auto attr = attribute(node, "requestTimeout")) {
    handler.request_timeout = config::parse_duration(attr.value());
    if (!handler.request_timeout) {
      throw std::runtime_error(std::string("web.config: requestTimeout=\"") + attr.value() +
                               "\" is not a time span (hh:mm:ss)");
    }
  }
  handler.stdout_log_enabled = bool_attribute(node, "stdoutLogEnabled");
  handler.stdout_log_file = attribute(node, "stdoutLogFile").value();
  handler.hosting_model = lower(attribute(node, "hostingModel").value());
  return handler;
}

}  // namespace

web_config parse_web_config(std::string_view xml) {
  pugi::xml_document document;
  const auto result = document.load_buffer(xml.data(), xml.size());
  if (!result) {
    throw std::runtime_error(std::string("web.config: ") + result.description() + " at offset " +
                             std::to_string(result.offset));
  }
  web_config config;
  auto configuration = child(document, "configuration");
  if (!configuration) return config;
  for (const auto& section : web_server_sections(configuration)) {
    if (auto node = child(section, "aspNetCore")) {
      config.handler = read_handler(node, process_handler::kind::asp_net_core);
    } else if (auto platform = child(section, "httpPlatform")) {
      config.handler = read_handler(platform, process_handler::kind::http_platform);
    }
    auto limits = child(child(child(section, "security"), "requestFiltering"), "requestLimits");
    if (auto attr = attribute(limits, "maxAllowedContentLength")) {
      try {
        config.max_allowed_content_length = std::stoull(attr.value());
      } catch (const std::exception&) {
        throw std::runtime_error(std::string("web.config: maxAllowedContentLength=\"") +
                                 attr.value() + "\" is not a number");
      }
    }
  }
  return config;
}

web_config read_web_config(const std::string& app_dir) {
  // Files deployed from Windows are often spelled "Web.config".
  std::string path;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(app_dir, error)) {
    if (lower(entry.path().filename().string()) == "web.config" && entry.is_regular_file(error)) {
      path = entry.path().string();
      break;
    }
  }
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_web_config(text.str());
}

}  // namespace nomad_iis::iis
