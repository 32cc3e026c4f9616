#include "actors/website_actor.hpp"

#include <signal.h>

#include <algorithm>
#include <set>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/site_context.hpp"
#include "common/unique_fd.hpp"
#include "config/error.hpp"
#include "iis/site_layout.hpp"
#include "iis/website.hpp"
#include "messages/error.hpp"
#include "messages/site.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

using finished_fn = operation_queue::finished_fn;
using website = website_actor_state::website;
using served_promise = caf::typed_response_promise<msg::website_served>;

constexpr auto start_limit = std::chrono::seconds(30);
constexpr auto reload_limit = std::chrono::seconds(10);
constexpr auto retire_limit = std::chrono::seconds(5);
constexpr auto stop_limit = std::chrono::seconds(10);

/// The website `name` as the driver config declares it, planned on first use.
website* find_or_plan(website_actor_ptr self, const std::string& name, iis::failure& error) {
  auto& st = self->state;
  if (auto it = st.sites.find(name); it != st.sites.end()) return &it->second;
  const auto* declared = st.driver.find_website(name);
  if (!declared) {
    error = {iis::errc::invalid_config,
             "target_website: \"" + name + "\" is not declared on this node"};
    return nullptr;
  }
  try {
    website site;
    site.plan = std::make_shared<const iis::site_plan>(iis::plan_website(*declared, st.driver));
    return &st.sites.emplace(name, std::move(site)).first->second;
  } catch (const std::exception& e) {
    error = {iis::errc::invalid_config, std::string("website ") + name + ": " + e.what()};
    return nullptr;
  }
}

/// The alias of `paths` some other member of `site` serves already, and who.
std::optional<std::pair<std::string, std::string>> conflict(const website& site,
                                                            const std::string& key,
                                                            const std::vector<std::string>& paths) {
  for (const auto& [other_key, other] : site.members) {
    if (other_key == key) continue;
    for (const auto& path : paths) {
      if (std::find(other.paths.begin(), other.paths.end(), path) != other.paths.end())
        return std::make_pair(path, other.task_id);
    }
  }
  return std::nullopt;
}

std::vector<std::string> member_keys(const website& site) {
  std::vector<std::string> keys;
  for (const auto& [key, member] : site.members) keys.push_back(key);
  return keys;
}

site_context context_of(website_actor_ptr self, const website& site) {
  auto& st = self->state;
  return site_context{site.plan, st.launcher, st.host, st.workers, self->address()};
}

std::vector<ready_target> binding_targets(const website& site, poller::time_point deadline) {
  std::vector<ready_target> targets;
  std::set<std::pair<std::string, std::int32_t>> listens;
  const auto& plan = *site.plan;
  for (const auto& binding : plan.bindings) {
    if (!listens.insert({binding.ip, binding.port}).second) continue;
    ready_target target;
    target.what =
        "binding " + iis::address_text(binding.ip, binding.port) + " of website " + plan.website;
    target.ip = binding.ip;
    target.port = binding.port;
    target.owner = site.master;
    target.owner_log = iis::layout::alert_log(plan.data_dir, iis::layout::front_instance);
    target.deadline = deadline;
    target.limit_text = iis::seconds_text(start_limit);
    targets.push_back(target);
  }
  return targets;
}

/// First use: folders, configuration, the task's fragments, then its nginx;
/// done once every binding accepts.
void start_site(website_actor_ptr self, const std::string& name, const std::string& key,
                std::vector<iis::pool_routes> routes, served_promise rp, finished_fn finished) {
  auto& site = self->state.sites.at(name);
  auto fail = [rp, finished](const iis::failure& error) mutable {
    rp.deliver(to_error(error));
    finished();
  };
  auto task_plan = site.members.at(key).plan;
  off_thread<iis::process_ref>(
      self, self->state.workers,
      [plan = site.plan, keys = member_keys(site), key, task_plan, routes, host = self->state.host,
       launcher = self->state.launcher] {
        host->prepare_website(*plan, keys);
        host->update_website_member(*plan, key, task_plan.get(), routes);
        auto logs = host->open_website_logs(*plan);
        auto request = host->nginx_request(*plan, iis::layout::front_instance, -1);
        request.stdout_fd = logs.out.get();
        request.stderr_fd = logs.err.get();
        request.cgroup_procs.clear();  // the node's, in no task's cgroup
        try {
          return launcher->spawn(request);
        } catch (const std::exception& e) {
          throw iis::backend_error(iis::code_of(e, iis::errc::process_failed),
                                   "nginx of website " + plan->website + ": " + e.what());
        }
      },
      [self, name, rp, finished, fail](job_result<iis::process_ref> spawned) mutable {
        if (!spawned.ok()) {
          fail(spawned.error);
          return;
        }
        auto& site = self->state.sites.at(name);
        site.master = *spawned.value;
        site.stopping = false;
        watch_process(self, *self->state.launcher, site.master);
        const auto deadline = self->clock().now() + start_limit;
        wait_ready(self, self->state.polls, context_of(self, site), binding_targets(site, deadline),
                   [self, name, rp, finished, fail](std::optional<iis::failure> error) mutable {
                     auto& site = self->state.sites.at(name);
                     if (error) {
                       site.stopping = true;
                       kill_all(*self->state.launcher, {site.master});
                       site.master = {};
                       fail(*error);
                       return;
                     }
                     rp.deliver(msg::website_served{site.master, {}});
                     finished();
                   });
      });
}

/// SIGHUP once the new configuration passed `nginx -t`; done when new
/// workers run and the old ones stopped accepting (they may still drain).
void reload_site(website_actor_ptr self, const std::string& name, served_promise rp,
                 finished_fn finished) {
  auto& st = self->state;
  auto& site = st.sites.at(name);
  auto old_workers = st.launcher->children(site.master);
  st.launcher->signal(site.master, SIGHUP);
  auto before = std::make_shared<std::set<std::int32_t>>();
  for (const auto& worker : old_workers) before->insert(worker.pid);
  st.polls.start(
      self,
      [self, name, before] {
        auto& st = self->state;
        const auto& site = st.sites.at(name);
        for (const auto& child : st.launcher->children(site.master)) {
          if (!before->count(child.pid) && !st.launcher->shutting_down(child)) return true;
        }
        return false;
      },
      self->clock().now() + reload_limit, adopt_interval,
      [self, name, old_workers, rp, finished](bool reloaded) mutable {
        auto& st = self->state;
        if (!reloaded) {
          const auto log =
              iis::layout::alert_log(st.sites.at(name).plan->data_dir, iis::layout::front_instance);
          const auto why = st.host->last_emergency(log);
          rp.deliver(to_error({iis::errc::process_failed, "the nginx of website " + name +
                                                              " did not reload" +
                                                              (why.empty() ? "" : ": " + why)}));
          finished();
          return;
        }
        wait_retired(
            self, st.polls, *st.launcher, old_workers, self->clock().now() + retire_limit,
            [self, name, old_workers, rp, finished]() mutable {
              rp.deliver(msg::website_served{self->state.sites.at(name).master, old_workers});
              finished();
            });
      });
}

/// The last task left: the website's nginx stops gracefully (killed past
/// the limit).
void stop_site(website_actor_ptr self, const std::string& name, served_promise rp,
               finished_fn finished) {
  auto& st = self->state;
  auto& site = st.sites.at(name);
  site.stopping = true;
  std::vector<iis::process_ref> processes = st.launcher->children(site.master);
  processes.push_back(site.master);
  st.launcher->signal(site.master, SIGQUIT);
  wait_gone(self, st.polls, *st.launcher, processes, self->clock().now() + stop_limit,
            [self, name, rp, finished](std::vector<iis::process_ref> left) mutable {
              auto& st = self->state;
              if (!left.empty()) kill_all(*st.launcher, left);
              st.sites.at(name).master = {};
              rp.deliver(msg::website_served{});
              finished();
            });
}

/// Writes (or removes) a member's fragments on a worker, then starts,
/// reloads or stops the website as its members now need.
void change(website_actor_ptr self, const std::string& name, const std::string& key,
            std::shared_ptr<const iis::site_plan> task_plan, std::vector<iis::pool_routes> routes,
            served_promise rp, finished_fn finished) {
  auto& site = self->state.sites.at(name);
  if (!site.master.pid) {
    if (!task_plan) {  // nothing runs: only the files go
      off_thread<caf::unit_t>(
          self, self->state.workers,
          [plan = site.plan, key, host = self->state.host] {
            host->update_website_member(*plan, key, nullptr, {});
          },
          [rp, finished](job_result<caf::unit_t>) mutable {
            rp.deliver(msg::website_served{});
            finished();
          });
      return;
    }
    start_site(self, name, key, std::move(routes), rp, finished);
    return;
  }
  off_thread<caf::unit_t>(
      self, self->state.workers,
      [plan = site.plan, key, task_plan, routes, host = self->state.host] {
        host->update_website_member(*plan, key, task_plan.get(), routes);
      },
      [self, name, rp, finished](job_result<caf::unit_t> written) mutable {
        auto& site = self->state.sites.at(name);
        if (!written.ok()) {
          rp.deliver(to_error(written.error));
          finished();
        } else if (!site.master.pid) {
          rp.deliver(msg::website_served{});
          finished();
        } else if (site.members.empty()) {
          stop_site(self, name, rp, finished);
        } else {
          reload_site(self, name, rp, finished);
        }
      });
}

caf::result<msg::website_served> join(website_actor_ptr self, msg::website_join& m) {
  iis::failure error;
  const std::string& name = m.plan->website;
  auto* site = find_or_plan(self, name, error);
  if (!site) return to_error(error);
  const auto key = iis::website_member_key(m.plan->site_name);
  auto paths = iis::claimed_paths(*m.plan);
  if (auto clash = conflict(*site, key, paths)) {
    return to_error({iis::errc::invalid_config, "target_website: application alias \"" +
                                                    clash->first +
                                                    "\" is already served in website \"" + name +
                                                    "\" by task " + clash->second});
  }
  if (m.recovered.pid && !site->master.pid && self->state.launcher->alive(m.recovered)) {
    // A plugin restart: the website's nginx served on meanwhile.
    site->master = m.recovered;
    site->stopping = false;
    watch_process(self, *self->state.launcher, site->master);
  }
  site->members[key] = {m.task_id, m.owner, std::move(paths), m.plan};
  return msg::website_served{site->master, {}};
}

void on_exit(website_actor_ptr self, const iis::process_ref& ref, iis::exit_status status) {
  for (auto& [name, site] : self->state.sites) {
    if (!(site.master == ref)) continue;
    site.master = {};
    if (std::exchange(site.stopping, false)) return;
    // Down without being asked: every task in it is down too.
    for (const auto& [key, member] : site.members) {
      if (auto owner = caf::actor_cast<caf::actor>(member.owner))
        self->send(owner, msg::front_died{status});
    }
  }
}

}  // namespace

caf::behavior website_actor(website_actor_ptr self, std::shared_ptr<iis::launcher> launcher,
                            std::shared_ptr<iis::site_host> host, caf::actor workers) {
  auto& st = self->state;
  st.launcher = std::move(launcher);
  st.host = std::move(host);
  st.workers = std::move(workers);
  return {
      [self](const msg::set_driver_config& cfg) { self->state.driver = cfg.driver; },
      [self](msg::website_join& m) { return join(self, m); },
      [self](msg::website_routes& m) -> caf::result<msg::website_served> {
        auto rp = self->make_response_promise<msg::website_served>();
        self->state.ops.run([self, m = std::move(m), rp](finished_fn finished) mutable {
          auto it = self->state.sites.find(m.website);
          if (it == self->state.sites.end() || !it->second.members.count(m.key)) {
            rp.deliver(to_error({iis::errc::invalid_config,
                                 "the task has not joined website \"" + m.website + "\""}));
            finished();
            return;
          }
          auto plan = it->second.members.at(m.key).plan;
          change(self, m.website, m.key, plan, std::move(m.routes), rp, finished);
        });
        return rp;
      },
      [self](msg::website_leave& m) -> caf::result<msg::website_served> {
        auto rp = self->make_response_promise<msg::website_served>();
        self->state.ops.run([self, m, rp](finished_fn finished) mutable {
          auto it = self->state.sites.find(m.website);
          if (it == self->state.sites.end() || !it->second.members.erase(m.key)) {
            rp.deliver(msg::website_served{});
            finished();
            return;
          }
          change(self, m.website, m.key, nullptr, {}, rp, finished);
        });
        return rp;
      },
      [self](msg::process_exit& exit) { on_exit(self, exit.process, exit.status); },
      [self](atom::poll, std::uint64_t id) { self->state.polls.tick(self, id); },
  };
}

}  // namespace nomad_iis
