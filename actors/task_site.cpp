#include "actors/task_site.hpp"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/front_actor.hpp"
#include "actors/pool_actor.hpp"
#include "actors/website_front.hpp"
#include "iis/site_layout.hpp"
#include "iis/website.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::site {
namespace {

namespace fs = std::filesystem;

/// Errors of a fan-out, in the order of the actors asked.
struct fan_in {
  std::size_t left = 0;
  std::vector<std::optional<iis::failure>> errors;
};

/// The failures of a fan-out as one: the texts joined, the first one's code,
/// unless one is a config error (then no retry can succeed).
std::optional<iis::failure> joined(const std::vector<std::optional<iis::failure>>& errors) {
  std::optional<iis::failure> result;
  std::vector<std::string> texts;
  for (const auto& e : errors) {
    if (!e) continue;
    texts.push_back(e->message);
    if (!result || e->code == iis::errc::invalid_config) result = iis::failure{e->code, {}};
  }
  if (result) result->message = iis::join(texts, "; ");
  return result;
}

/// Asks every actor and calls `done(errors joined)` once all answered;
/// `on_value(i, reply)` sees each value reply.
template <class Reply, class Message, class OnValue>
void ask_all(task_actor_ptr self, const std::vector<caf::actor>& targets, const Message& message,
             OnValue on_value, done_fn done) {
  if (targets.empty()) {
    done(std::nullopt);
    return;
  }
  auto fan = std::make_shared<fan_in>();
  fan->left = targets.size();
  fan->errors.resize(targets.size());
  auto finish_one = [fan, done](std::size_t i, std::optional<iis::failure> error) {
    fan->errors[i] = std::move(error);
    if (--fan->left == 0) done(joined(fan->errors));
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto failed = [finish_one, i](caf::error& error) { finish_one(i, failure_of(error)); };
    if constexpr (std::is_void_v<Reply>) {
      self->request(targets[i], caf::infinite, message)
          .then([finish_one, i]() { finish_one(i, std::nullopt); }, failed);
    } else {
      self->request(targets[i], caf::infinite, message)
          .then(
              [finish_one, on_value, i](Reply& reply) mutable {
                on_value(i, reply);
                finish_one(i, std::nullopt);
              },
              failed);
    }
  }
}

template <class Message>
void ask_pools(task_actor_ptr self, const Message& message, done_fn done) {
  ask_all<void>(self, self->state.pools, message, 0, std::move(done));
}

void publish_events(task_actor_ptr self, const std::vector<iis::site_event>& events) {
  for (const auto& event : events) {
    msg::task_event ev;
    ev.message = event.message;
    ev.annotations = event.annotations;
    ev.annotations.emplace("site", self->state.plan->site_name);
    self->send(self, std::move(ev));
  }
}

/// Spawns the front and one actor per pool, ending with the task actor.
void spawn_children(task_actor_ptr self, std::optional<iis::saved_site> saved) {
  auto& st = self->state;
  const site_context ctx{st.plan, st.services.launcher, st.services.host, st.services.workers,
                         self->address()};
  std::optional<iis::process_ref> front;
  if (saved) front = saved->front;
  if (st.plan->website.empty())
    st.front = self->spawn(front_actor, ctx, std::move(st.recovered_fronts));
  else
    st.front = self->spawn(website_front, ctx, st.services.websites, front);
  st.recovered_fronts.clear();
  st.pools.clear();
  st.pool_views.assign(st.plan->pools.size(), msg::pool_view{});
  for (std::size_t p = 0; p < st.plan->pools.size(); ++p) {
    st.pool_views[p].pool = p;
    pool_origin origin;
    if (saved && p < saved->pools.size()) origin.recovered = saved->pools[p];
    st.pools.push_back(self->spawn(pool_actor, ctx, p, st.front, origin));
  }
  published_status(self);
  // They hold sockets and timers of this task only: they end with it.
  self->attach_functor([front = st.front, pools = st.pools](const caf::error&) {
    caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
    for (const auto& pool : pools) caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
  });
}

/// Kills the front and the pools (whatever runs), then `done(errors)`.
void kill_children(task_actor_ptr self, done_fn done) {
  auto& st = self->state;
  if (!st.front) {
    done(std::nullopt);
    return;
  }
  self->request(st.front, caf::infinite, msg::front_kill{})
      .then(
          [self, done](msg::front_left& left) {
            std::vector<std::string> pids;
            for (const auto& p : left.processes) pids.push_back(std::to_string(p.pid));
            ask_pools(self, msg::pool_kill{}, [done, pids](std::optional<iis::failure> error) {
              if (!pids.empty())
                done(iis::failure{iis::errc::process_failed,
                                  "processes " + iis::join(pids) + " survived SIGKILL"});
              else
                done(error);
            });
          },
          [self, done](caf::error& error) {
            ask_pools(self, msg::pool_kill{},
                      [done, error](std::optional<iis::failure>) { done(failure_of(error)); });
          });
}

/// A start failed: everything goes, the pools' users too (Nomad destroys no
/// task whose start failed), then `done(error)`.
void abort_start(task_actor_ptr self, const iis::failure& error, done_fn done) {
  const auto& plan = *self->state.plan;
  if (!plan.website.empty() && !self->state.front) {
    // Joined, but no website_front yet to take the task out again.
    self->send(self->state.services.websites,
               msg::website_leave{plan.website, iis::website_member_key(plan.site_name)});
  }
  kill_children(self, [self, error, done](std::optional<iis::failure>) {
    off_thread<caf::unit_t>(
        self, self->state.services.workers,
        [plan = self->state.plan, host = self->state.services.host] { host->remove_site(*plan); },
        [error, done](job_result<caf::unit_t>) { done(error); });
  });
}

struct prepared_site {
  std::vector<iis::site_event> events;
  std::shared_ptr<unique_fd> lock;
};

void launch_all(task_actor_ptr self, std::vector<iis::pool_routes> routes, done_fn done) {
  auto& st = self->state;
  auto waiting = std::make_shared<int>(2);
  auto errors = std::make_shared<std::vector<std::optional<iis::failure>>>(2);
  auto finish = [self, waiting, errors, done](std::size_t i, std::optional<iis::failure> error) {
    (*errors)[i] = std::move(error);
    if (--*waiting > 0) return;
    if (auto error = joined(*errors))
      abort_start(self, *error, done);
    else
      done(std::nullopt);
  };
  self->request(st.front, caf::infinite, msg::front_start{std::move(routes)})
      .then(
          [self, finish](msg::front_view& view) {
            self->state.front_view = view;
            finish(0, std::nullopt);
          },
          [finish](caf::error& error) { finish(0, failure_of(error)); });
  ask_pools(self, msg::pool_launch{},
            [finish](std::optional<iis::failure> error) { finish(1, std::move(error)); });
}

/// A task in a node website first joins it: an alias another task serves
/// there refuses the start before anything is made. Then `next()`.
void join_website(task_actor_ptr self, iis::process_ref recovered,
                  std::function<void(std::optional<iis::failure>)> next) {
  auto& st = self->state;
  if (st.plan->website.empty()) {
    next(std::nullopt);
    return;
  }
  self->request(st.services.websites, caf::infinite,
                msg::website_join{st.task.task_id, st.plan, recovered, self->address()})
      .then([next](msg::website_served&) { next(std::nullopt); },
            [next](caf::error& error) { next(failure_of(error, iis::errc::invalid_config)); });
}

void prepare(task_actor_ptr self, done_fn done);

}  // namespace

void start(task_actor_ptr self, iis::site_plan plan, done_fn done) {
  auto& st = self->state;
  st.plan = std::make_shared<const iis::site_plan>(std::move(plan));
  join_website(self, {}, [self, done](std::optional<iis::failure> error) {
    if (error)
      done(error);
    else
      prepare(self, done);
  });
}

namespace {

void prepare(task_actor_ptr self, done_fn done) {
  auto& st = self->state;
  off_thread<prepared_site>(
      self, st.services.workers,
      [plan = st.plan, host = st.services.host] {
        prepared_site out;
        out.events = host->prepare_site(*plan);
        out.lock = std::make_shared<unique_fd>(
            host->hold_site_lock(iis::layout::site_lock(plan->data_dir)));
        return out;
      },
      [self, done](job_result<prepared_site> prepared) {
        if (!prepared.ok()) {
          abort_start(self, prepared.error, done);
          return;
        }
        publish_events(self, prepared.value->events);
        self->state.site_lock = std::move(*prepared.value->lock);
        spawn_children(self, std::nullopt);
        auto routes = std::make_shared<std::vector<iis::pool_routes>>(self->state.pools.size());
        ask_all<msg::pool_prepared>(
            self, self->state.pools, msg::pool_prepare{},
            [routes](std::size_t i, msg::pool_prepared& prepared) {
              (*routes)[i] = std::move(prepared.routes);
            },
            [self, routes, done](std::optional<iis::failure> error) {
              if (error) {
                abort_start(self, *error, done);
                return;
              }
              launch_all(self, std::move(*routes), done);
            });
      });
}

}  // namespace

void recover(task_actor_ptr self, iis::saved_site saved) {
  auto& st = self->state;
  auto& plan = saved.plan;
  // A task's own front has moved on from the handle's master when it
  // reloaded (a new generation); its pid files say which run now.
  const bool saved_runs = saved.front.pid > 0 && st.services.launcher->alive(saved.front);
  std::vector<iis::front_generation> fronts;
  if (plan.website.empty()) {
    fronts = st.services.host->running_front_generations(plan);
    if (fronts.empty() && saved_runs)
      fronts.push_back({0, saved.front});  // no pid file names it: reloads in place
  }
  const bool front_runs = plan.website.empty() ? !fronts.empty() : saved_runs;
  if (!front_runs) {
    // Nomad starts such a task anew (its users are made again) or not at all:
    // the pools' own users go unless a process of theirs still runs.
    off_thread<caf::unit_t>(
        self, st.services.workers,
        [plan, host = st.services.host] { host->remove_pool_users(plan); },
        [](job_result<caf::unit_t>) {});
    throw std::runtime_error("site " + plan.site_name + ": its front nginx (pid " +
                             std::to_string(saved.front.pid) + ") is gone");
  }
  if (!st.services.host->load_site(plan)) {
    throw std::runtime_error("site " + plan.site_name + ": its data directory " + plan.data_dir +
                             " is gone");
  }
  st.plan = std::make_shared<const iis::site_plan>(plan);
  st.front_view.master = fronts.empty() ? saved.front : fronts.back().master;
  st.recovered_fronts = std::move(fronts);
  st.pool_views.assign(st.plan->pools.size(), msg::pool_view{});
  for (std::size_t p = 0; p < st.pool_views.size(); ++p) st.pool_views[p].pool = p;
  st.recovering = std::move(saved);
  published_status(self);
}

void settle(task_actor_ptr self, done_fn done) {
  // Ours again before the pools look at what runs: a keeper starts a pool's
  // nginx only while no plugin holds the lock, and holds it itself until its
  // exec named the nginx in the pool's pid file. What the pools find then
  // stays true.
  off_thread<std::shared_ptr<unique_fd>>(
      self, self->state.services.workers,
      [data_dir = self->state.plan->data_dir, host = self->state.services.host] {
        return std::make_shared<unique_fd>(host->hold_site_lock(iis::layout::site_lock(data_dir)));
      },
      [self, done](job_result<std::shared_ptr<unique_fd>> lock) {
        auto& st = self->state;
        if (lock.ok()) st.site_lock = std::move(**lock.value);
        join_website(self, st.recovering->front, [self, done](std::optional<iis::failure> error) {
          auto& st = self->state;
          auto saved = std::move(*st.recovering);
          st.recovering.reset();
          if (error) {
            done(error);
            return;
          }
          spawn_children(self, std::move(saved));
          ask_pools(self, msg::pool_sync{}, done);
        });
      });
}

void stop(task_actor_ptr self, iis::duration timeout, int app_signal, done_fn done) {
  const auto deadline = self->clock().now() + timeout;
  self->request(self->state.front, caf::infinite, msg::front_stop{timeout})
      .then(
          [self, deadline, app_signal, done](msg::front_left& left) {
            const auto remaining =
                std::max<caf::timespan>(deadline - self->clock().now(), caf::timespan{0});
            const auto rest = std::chrono::duration_cast<iis::duration>(remaining);
            ask_pools(self, msg::pool_shutdown{rest, app_signal},
                      [self, left, done](std::optional<iis::failure> error) {
                        if (left.processes.empty()) {
                          done(error);
                          return;
                        }
                        self->request(self->state.front, caf::infinite, msg::front_kill{})
                            .then(
                                [error, done](msg::front_left& survivors) {
                                  std::vector<std::string> pids;
                                  for (const auto& p : survivors.processes)
                                    pids.push_back(std::to_string(p.pid));
                                  if (!pids.empty())
                                    done(iis::failure{
                                        iis::errc::process_failed,
                                        "processes " + iis::join(pids) + " survived SIGKILL"});
                                  else
                                    done(error);
                                },
                                [done](caf::error& e) { done(failure_of(e)); });
                      });
          },
          [done](caf::error& error) { done(failure_of(error)); });
}

void destroy(task_actor_ptr self, done_fn done) {
  kill_children(self, [self, done](std::optional<iis::failure> killed) {
    off_thread<std::vector<std::string>>(
        self, self->state.services.workers,
        [plan = self->state.plan, host = self->state.services.host] {
          return host->remove_site(*plan);
        },
        [killed, done](job_result<std::vector<std::string>> removed) {
          if (killed)
            done(killed);
          else if (!removed.ok())
            done(removed.error);
          else if (!removed.value->empty())
            done(iis::failure{iis::errc::io_failure,
                              "could not remove: " + iis::join(*removed.value)});
          else
            done(std::nullopt);
        });
  });
}

void run_on_pools(task_actor_ptr self, msg::pool_op op, std::vector<std::size_t> pools, bool all,
                  done_fn done) {
  struct batch {
    std::vector<std::size_t> pools;
    std::size_t next = 0;
    std::vector<std::optional<iis::failure>> errors;
  };
  auto state = std::make_shared<batch>();
  state->pools = std::move(pools);
  auto step = std::make_shared<std::function<void()>>();
  *step = [self, op, all, state, step, done] {
    if (state->next == state->pools.size()) {
      done(joined(state->errors));
      *step = nullptr;  // breaks the cycle
      return;
    }
    const auto pool = state->pools[state->next++];
    self->request(self->state.pools[pool], caf::infinite, msg::pool_request{op, all})
        .then([step]() { (*step)(); },
              [state, step](caf::error& error) {
                state->errors.push_back(failure_of(error));
                (*step)();
              });
  };
  (*step)();
}

void hand_over(task_actor_ptr self, std::function<void()> done) {
  ask_pools(self, msg::pool_hand_over{}, [done](std::optional<iis::failure>) { done(); });
}

void refresh_access(task_actor_ptr self, std::function<void()> done) {
  off_thread<std::vector<iis::site_event>>(
      self, self->state.services.workers,
      [plan = self->state.plan, host = self->state.services.host] {
        return host->secure_site(*plan);
      },
      [self, done](job_result<std::vector<iis::site_event>> secured) {
        if (secured.ok())
          publish_events(self, *secured.value);
        else
          publish_events(
              self,
              {{"directory security failed after a file change: " + secured.error.message, {}}});
        done();
      });
}

void front_died(task_actor_ptr self, iis::exit_status status,
                std::function<void(msg::exit_result)> done) {
  // The front holds the bindings: without it the site is down. Its orphaned
  // workers (they keep the ports) and the pools go. Killed (or gone
  // unseen) with an OOM kill in its cgroup: the kernel took it for memory.
  const bool killed = !status.known || status.signal == SIGKILL;
  const bool oom = killed && self->state.services.host->oom_kills(*self->state.plan,
                                                                  iis::layout::front_instance) > 0;
  kill_children(self, [self, status, oom, done](std::optional<iis::failure>) {
    msg::exit_result result;
    const std::int32_t code = status.known ? status.code : -1;
    result.signal = status.known ? status.signal : 0;
    result.exit_code = code != 0 ? code : (result.signal != 0 ? 128 + result.signal : 1);
    result.oom_killed = oom;
    result.err = "the front nginx of site " + self->state.plan->site_name + " exited (" +
                 (oom ? std::string("killed: out of memory") : iis::describe(status)) +
                 "); the site is down";
    done(std::move(result));
  });
}

std::vector<std::size_t> pool_indices(task_actor_ptr self, const std::vector<std::string>& names) {
  const auto& pools = self->state.plan->pools;
  std::vector<std::size_t> out;
  for (std::size_t p = 0; p < pools.size(); ++p) {
    if (names.empty() || std::find(names.begin(), names.end(), pools[p].name) != names.end())
      out.push_back(p);
  }
  return out;
}

std::vector<std::string> pools_serving(const iis::site_plan& plan, const std::string& task_path) {
  const fs::path target = fs::path(task_path).lexically_normal();
  auto inside = [](const fs::path& a, const fs::path& b) {
    const auto relative = a.lexically_relative(b);
    return !relative.empty() && *relative.begin() != "..";
  };
  auto overlaps = [&](const std::string& physical) {
    const fs::path root = fs::path(physical).lexically_normal();
    return inside(target, root) || inside(root, target);
  };
  std::vector<std::string> pools;
  for (const auto& app : plan.applications) {
    bool serves = overlaps(app.physical_path);
    for (const auto& vdir : app.virtual_directories)
      serves = serves || overlaps(vdir.physical_path);
    if (serves && std::find(pools.begin(), pools.end(), app.pool) == pools.end())
      pools.push_back(app.pool);
  }
  return pools;
}

std::string save_state(task_actor_ptr self) {
  const auto& st = self->state;
  iis::saved_site state;
  state.plan = *st.plan;
  for (auto& binding : state.plan.bindings) {
    if (binding.certificate) binding.certificate->pfx_password.clear();
  }
  state.front = st.front_view.master;
  for (const auto& view : st.pool_views) {
    iis::saved_pool pool;
    pool.status = view.status;
    pool.master = view.master;
    pool.idle = view.idle;
    pool.apps = view.apps;
    state.pools.push_back(std::move(pool));
  }
  return iis::encode_state(state);
}

std::string front_served_pool(task_actor_ptr self) {
  const auto& st = self->state;
  for (const auto& view : st.pool_views)
    if (view.front_serves && st.plan) return st.plan->pools[view.pool].name;
  return {};
}

iis::process_ref pool_supervisor(task_actor_ptr self, const msg::pool_view& view) {
  return view.front_serves ? self->state.front_view.master : view.master;
}

const std::vector<iis::process_ref>& pool_workers(task_actor_ptr self, const msg::pool_view& view) {
  return view.front_serves ? self->state.front_view.workers : view.workers;
}

iis::site_snapshot snapshot(task_actor_ptr self) {
  const auto& st = self->state;
  iis::site_snapshot out;
  out.front = st.front_view.master;
  out.running = out.front.pid != 0;
  for (const auto& view : st.pool_views) {
    iis::pool_snapshot pool;
    pool.name = st.plan ? st.plan->pools[view.pool].name : "";
    pool.status = view.status;
    pool.supervisor = pool_supervisor(self, view);
    pool.workers = pool_workers(self, view);
    out.pools.push_back(std::move(pool));
  }
  return out;
}

iis::usage_sample sample_usage(task_actor_ptr self) {
  const auto& st = self->state;
  iis::usage_sample sample;
  auto& launcher = *st.services.launcher;
  auto add = [&sample, &launcher](const std::string& pool, const iis::process_ref& ref) {
    if (auto usage = launcher.usage(ref)) sample.by_pool[pool].push_back(*usage);
  };
  // A node website's nginx is the node's, not the task's. A front that
  // serves a pool's files counts as that pool.
  const auto front_name = front_served_pool(self);
  if (st.front_view.master.pid && st.plan->website.empty()) add(front_name, st.front_view.master);
  for (const auto& worker : st.front_view.workers) add(front_name, worker);
  for (const auto& view : st.pool_views) {
    for (const auto& process : view.all) add(st.plan->pools[view.pool].name, process);
  }
  return sample;
}

bool running(task_actor_ptr self) {
  return self->state.front_view.master.pid != 0;
}

}  // namespace nomad_iis::site
