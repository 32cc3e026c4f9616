#include "iis/website_setup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "iis/failure.hpp"
#include "iis/nginx_config.hpp"
#include "iis/process.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"
#include "iis/site_setup.hpp"

namespace nomad_iis::iis {
namespace {

namespace fs = std::filesystem;

constexpr auto check_limit = std::chrono::seconds(20);

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// `nginx -t` of the website's configuration with every fragment in place;
/// "" when nginx takes it, else its complaint.
std::string test_config(const site_plan& website) {
  spawn_request request = nginx_request(website, layout::front_instance, -1);
  request.args.push_back("-t");
  request.args.push_back("-q");
  request.cgroup_procs.clear();
  const auto run = run_to_end(request, check_limit);
  if (run.timed_out) return "nginx -t did not finish within 20s";
  if (run.status.known && run.status.code == 0 && run.status.signal == 0) return "";
  std::string output = run.output;
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return output.empty() ? "nginx -t failed without a word" : output;
}

void restore(const std::string& path, bool existed, const std::string& content) {
  if (existed)
    write_file_atomic(path, content, 0644);
  else
    ::unlink(path.c_str());
}

}  // namespace

std::vector<site_event> prepare_website(const site_plan& website,
                                        const std::vector<std::string>& member_keys) {
  const auto& dir = website.data_dir;
  make_dir(fs::path(dir).parent_path().string(), 0711);
  make_dir(dir, 0711);
  for (const char* sub : {"/logs", "/run", "/certs", "/tmp", "/members"})
    make_dir(dir + sub, sub == std::string("/certs") ? 0700 : 0711);
  make_dir(layout::temp_dir(dir, layout::front_instance), 0711);
  const std::set<std::string> keep(member_keys.begin(), member_keys.end());
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(layout::website_members_dir(dir), error)) {
    const auto name = entry.path().filename();
    if (!keep.count(name.stem().string())) fs::remove(entry.path(), error);
  }
  auto events = prepare_bindings(website);
  website_conf conf;
  conf.site_name = website.website;
  conf.data_dir = dir;
  conf.worker_identity = front_identity();
  conf.bindings = website.bindings;
  conf.root_dir = website.website_root;
  conf.members_dir = layout::website_members_dir(dir);
  conf.worker_connections = website.front_worker_connections;
  write_file_atomic(layout::conf(dir, layout::front_instance), render_website_conf(conf), 0644);
  if (auto why = test_config(website); !why.empty())
    throw backend_error(errc::invalid_config, "website " + website.website + ": " + why);
  return events;
}

void update_website_member(const site_plan& website, const std::string& key, const site_plan* task,
                           const std::vector<pool_routes>& routes) {
  const auto& dir = website.data_dir;
  const std::string locations = layout::website_member_locations(dir, key);
  const std::string http = layout::website_member_http(dir, key);
  const std::string link = dir + "/" + layout::website_member_link(key);
  std::error_code error;
  const bool had_locations = fs::exists(locations, error);
  const bool had_http = fs::exists(http, error);
  const std::string old_locations = had_locations ? read_file(locations) : "";
  const std::string old_http = had_http ? read_file(http) : "";
  if (task) {
    auto member = member_of(*task, routes, layout::website_member_link(key) + "/");
    member.label = "m" + key + "_";
    // The website denies /secrets/ once for all of them.
    member.denied_prefixes.erase(
        std::remove(member.denied_prefixes.begin(), member.denied_prefixes.end(), "/secrets/"),
        member.denied_prefixes.end());
    fs::remove(link, error);
    fs::create_symlink(task->data_dir, link, error);
    if (error) throw backend_error(errc::io_failure, "link " + link + ": " + error.message());
    write_file_atomic(http, render_member_http(member), 0644);
    write_file_atomic(locations, render_member_locations(member), 0644);
  } else {
    ::unlink(locations.c_str());
    ::unlink(http.c_str());
  }
  if (auto why = test_config(website); !why.empty()) {
    restore(locations, had_locations, old_locations);
    restore(http, had_http, old_http);
    throw backend_error(errc::invalid_config,
                        "website " + website.website + " refused the task's applications: " + why);
  }
  if (!task) fs::remove(link, error);
}

output_fds open_website_logs(const site_plan& website) {
  output_fds fds;
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
  fds.out.reset(::open(website.stdout_path.c_str(), flags, 0640));
  fds.err.reset(::open(website.stderr_path.c_str(), flags, 0640));
  if (!fds.complete())
    throw backend_error(errc::io_failure, "cannot open the logs of website " + website.website +
                                              " in " + website.data_dir);
  return fds;
}

process_ref running_website_master(const site_plan& website) {
  return running_nginx_master(website.data_dir,
                              layout::pid_file(website.data_dir, layout::front_instance),
                              layout::conf(website.data_dir, layout::front_instance));
}

}  // namespace nomad_iis::iis
