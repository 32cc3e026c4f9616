#include "iis/app_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "iis/failure.hpp"

namespace nomad_iis::iis {
namespace {

std::string to_forward_slashes(std::string text) {
  std::replace(text.begin(), text.end(), '\\', '/');
  return text;
}

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

/// Environment as a name → value map keeping names as first written.
class environment {
 public:
  void set(const std::string& name, const std::string& value) {
    // Windows environment names are case-insensitive; keep one spelling.
    auto it = index_.find(upper(name));
    if (it != index_.end()) {
      values_[it->second] = value;
      return;
    }
    index_.emplace(upper(name), name);
    values_[name] = value;
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& [name, value] : values_) out.push_back(name + "=" + value);
    return out;
  }
  std::string get(const std::string& name) const {
    auto it = index_.find(upper(name));
    return it == index_.end() ? std::string() : values_.at(it->second);
  }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> index_;  ///< upper-case name → spelling
};

}  // namespace

std::string expand_variables(const std::string& text, const std::vector<std::string>& env) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find('%', pos);
    if (open == std::string::npos) break;
    const auto close = text.find('%', open + 1);
    if (close == std::string::npos) break;
    const std::string name = upper(text.substr(open + 1, close - open - 1));
    std::optional<std::string> value;
    for (const auto& entry : env) {
      const auto eq = entry.find('=');
      if (eq != std::string::npos && upper(entry.substr(0, eq)) == name && !name.empty()) {
        value = entry.substr(eq + 1);
      }
    }
    out += text.substr(pos, open - pos);
    if (value) {
      out += *value;
      pos = close + 1;
    } else {
      out += '%';  // not a variable: keep the '%' and go on after it
      pos = open + 1;
    }
  }
  out += text.substr(pos);
  return out;
}

std::vector<std::string> split_arguments(const std::string& text) {
  std::vector<std::string> args;
  std::string current;
  bool quoted = false;
  bool have = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
      have = true;
    } else if (!quoted && std::isspace(static_cast<unsigned char>(c))) {
      if (have) args.push_back(current);
      current.clear();
      have = false;
    } else {
      current += c;
      have = true;
    }
  }
  if (have) args.push_back(current);
  return args;
}

app_command build_app_command(const process_handler& handler, const application_plan& app,
                              const pool_plan& pool, std::int32_t port,
                              const std::string& log_root) {
  environment env;
  for (const auto& [name, value] : pool.env) env.set(name, value);
  const std::string port_text = std::to_string(port);
  auto set_port_variables = [&] {
    if (handler.type == process_handler::kind::asp_net_core) {
      env.set("ASPNETCORE_PORT", port_text);
      env.set("ASPNETCORE_URLS", "http://127.0.0.1:" + port_text);
      std::string base = app.url_path;
      if (base.size() > 1 && base.back() == '/') base.pop_back();
      env.set("ASPNETCORE_APPL_PATH", base);
    } else {
      env.set("HTTP_PLATFORM_PORT", port_text);
    }
  };
  set_port_variables();
  for (const auto& [name, value] : handler.environment) {
    env.set(name, expand_variables(value, env.entries()));
  }
  set_port_variables();  // the module's own values win, as with IIS
  const auto entries = env.entries();

  app_command command;
  if (::geteuid() == 0 && pool.run_as_user) {
    command.request.account = find_account(*pool.run_as_user);
    if (!command.request.account)
      throw backend_error(errc::invalid_config, "unknown Unix user " + *pool.run_as_user);
  }
  command.request.cwd = app.physical_path;
  command.request.env = entries;
  std::string program = to_forward_slashes(expand_variables(handler.process_path, entries));
  std::string path_env = env.get("PATH");
  if (path_env.empty()) path_env = "/usr/local/bin:/usr/bin:/bin";
  const auto& as = command.request.account;
  auto found = find_executable(program, app.physical_path, path_env, as);
  // Windows deployments name "MyApp.exe"; the Linux build of the app is "MyApp".
  if (!found && program.size() > 4 && upper(program.substr(program.size() - 4)) == ".EXE") {
    found = find_executable(program.substr(0, program.size() - 4), app.physical_path, path_env, as);
  }
  if (!found) {
    throw backend_error(
        errc::invalid_config,
        std::string("web.config <") + handler.element_name() + "> processPath \"" +
            handler.process_path + "\" is not an executable file (looked in " +
            (program.find('/') == std::string::npos ? "PATH=" + path_env : app.physical_path) +
            (as ? ", as user " + as->name : std::string()) + ")");
  }
  command.request.path = *found;
  command.request.args.push_back(*found);
  for (auto& arg : split_arguments(expand_variables(handler.arguments, entries))) {
    command.request.args.push_back(to_forward_slashes(arg));
  }
  if (handler.stdout_log_enabled && !handler.stdout_log_file.empty()) {
    std::filesystem::path file = to_forward_slashes(handler.stdout_log_file);
    if (file.is_relative()) file = std::filesystem::path(app.physical_path) / file;
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &utc);
    file = file.lexically_normal();
    const auto relative = file.lexically_relative(std::filesystem::path(log_root));
    if (relative.empty() || *relative.begin() == "..") {
      throw backend_error(errc::invalid_config, "web.config stdoutLogFile \"" +
                                                    handler.stdout_log_file +
                                                    "\" points outside the allocation directory");
    }
    command.stdout_log_path = file.string() + "_" + stamp + ".log";
  }
  return command;
}

}  // namespace nomad_iis::iis
