#include "iis/exec.hpp"

#include <algorithm>

#include "iis/failure.hpp"

namespace nomad_iis::iis {
namespace {

const pool_plan& chosen_pool(const site_plan& plan) {
  if (plan.pools.empty())
    throw backend_error(errc::invalid_config, "the site has no application pool");
  const auto& first = plan.pools.front();
  auto named = first.env.find(exec_pool_variable);
  if (named == first.env.end() || named->second.empty()) return first;
  auto it = std::find_if(plan.pools.begin(), plan.pools.end(),
                         [&](const pool_plan& p) { return p.name == named->second; });
  if (it != plan.pools.end()) return *it;
  std::string known;
  for (const auto& p : plan.pools) known += (known.empty() ? "" : ", ") + p.name;
  throw backend_error(errc::invalid_config, std::string(exec_pool_variable) + " names pool \"" +
                                                named->second +
                                                "\", which the site lacks (pools: " + known + ")");
}

}  // namespace

exec_request plan_exec(const site_plan& plan, std::vector<std::string> command, bool tty) {
  if (command.empty() || command.front().empty())
    throw backend_error(errc::invalid_config, "exec needs a command");
  const auto& pool = chosen_pool(plan);
  exec_request request;
  request.command = std::move(command);
  request.pool = pool.name;
  request.run_as_user = pool.run_as_user;
  request.cwd = plan.task_dir;
  request.tty = tty;
  request.cgroup = plan.cgroup;
  bool has_path = false;
  bool has_term = false;
  for (const auto& [name, value] : pool.env) {
    has_path = has_path || name == "PATH";
    has_term = has_term || name == "TERM";
    request.env.push_back(name + "=" + value);
  }
  // A shell needs a PATH; a terminal program needs to know the terminal.
  if (!has_path) request.env.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
  if (tty && !has_term) request.env.emplace_back("TERM=xterm-256color");
  return request;
}

}  // namespace nomad_iis::iis
