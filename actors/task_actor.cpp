#include "actors/task_actor.hpp"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include <caf/all.hpp>

#include "actors/driver_state.hpp"
#include "actors/exec_session.hpp"
#include "actors/task_files.hpp"
#include "actors/task_inspect.hpp"
#include "actors/task_metrics.hpp"
#include "actors/task_queue.hpp"
#include "actors/task_site.hpp"
#include "actors/timeouts.hpp"
#include "common/logging.hpp"
#include "config/error.hpp"
#include "config/task_config.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {

namespace task_queue {

void enqueue(task_actor_ptr self, std::function<void()> work) {
  if (self->state.busy) {
    self->state.queued.push_back(std::move(work));
    return;
  }
  work();
}

namespace {

void run_queued(task_actor_ptr self) {
  while (!self->state.busy && !self->state.queued.empty()) {
    auto next = std::move(self->state.queued.front());
    self->state.queued.pop_front();
    next();
  }
}

}  // namespace

void run_op(task_actor_ptr self, std::function<void(site::done_fn)> op,
            std::function<void(std::optional<iis::failure>)> then) {
  self->state.busy = true;
  auto once = std::make_shared<bool>(false);
  op([self, once, then = std::move(then)](std::optional<iis::failure> error) {
    if (std::exchange(*once, true)) return;
    self->state.busy = false;
    if (then) then(std::move(error));
    run_queued(self);
  });
}

}  // namespace task_queue

namespace {

using task_queue::enqueue;
using task_queue::run_op;

auto log() {
  static auto logger = logging::get("task");
  return logger;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::int64_t epoch_ns(caf::timestamp t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

caf::timestamp from_epoch_ns(std::int64_t ns) {
  return caf::timestamp{std::chrono::nanoseconds{ns}};
}

std::string encode_state(task_actor_ptr self) {
  driver_state st;
  st.task = self->state.task;
  st.task.env.clear();  // env may carry secrets; recovery does not need it
  st.started_at_ns = epoch_ns(self->state.started_at);
  st.site = site::save_state(self);
  return encode(st);
}

void publish(task_actor_ptr self, std::string message,
             std::map<std::string, std::string> annotations = {}) {
  msg::task_event ev;
  ev.message = std::move(message);
  ev.annotations = std::move(annotations);
  self->send(self, std::move(ev));
}

msg::task_summary summary_of(task_actor_ptr self) {
  const auto& st = self->state;
  msg::task_summary s;
  s.task_id = st.task.task_id;
  s.alloc_id = st.task.alloc_id;
  s.task_name = st.task.task_name;
  s.job_name = st.task.job_name;
  s.group_name = st.task.group_name;
  s.namespace_name = st.task.namespace_name;
  s.recovered = st.recovered;
  if (st.plan) s.site_name = st.plan->site_name;
  return s;
}

/// Tells the supervisor who we are now that the site runs.
void announce(task_actor_ptr self) {
  if (auto sup = caf::actor_cast<caf::actor>(self->state.supervisor))
    self->send(sup, summary_of(self));
}

/// "Application pools a, b recycled (SIGHUP)" for the task's event stream.
void publish_pool_change(task_actor_ptr self, msg::pool_op op,
                         const std::vector<std::string>& pools, const std::string& cause) {
  std::string names;
  if (pools.empty()) {
    for (const auto& p : self->state.plan->pools) names += (names.empty() ? "" : ", ") + p.name;
  } else {
    for (const auto& p : pools) names += (names.empty() ? "" : ", ") + p;
  }
  const char* verb = op == msg::pool_op::start  ? "started"
                     : op == msg::pool_op::stop ? "stopped"
                                                : "recycled";
  publish(self, "Application pool " + names + " " + verb + " (" + cause + ")",
          {{"pools", names}, {"operation", verb}, {"cause", cause}});
}

/// Runs one pool operation (an empty list = every pool), reports it as a task
/// event and answers `rp`. Called from the operation queue.
void run_pool_op(task_actor_ptr self, caf::response_promise rp, msg::pool_op op,
                 std::vector<std::string> pools, std::string cause) {
  if (self->state.phase != task_phase::running) {
    rp.deliver(caf::make_error(ec::operation_failed, std::string("the task is not running")));
    return;
  }
  const bool all = pools.empty();
  auto indices = site::pool_indices(self, pools);
  run_op(
      self,
      [self, op, indices, all](site::done_fn done) {
        site::run_on_pools(self, op, indices, all, std::move(done));
      },
      [self, rp, op, pools, cause](std::optional<iis::failure> error) mutable {
        if (error) {
          rp.deliver(to_error(*error, cause + " failed: "));
          return;
        }
        publish_pool_change(self, op, pools, cause);
        rp.deliver(caf::unit);
      });
}

/// The commands of `nomad alloc exec` end with the task: killed, and their
/// clients get how they ended (they go away by themselves, monitored).
void end_exec_sessions(task_actor_ptr self) {
  for (const auto& session : self->state.exec_sessions) self->send(session, msg::exec_end{});
}

void mark_exited(task_actor_ptr self, msg::exit_result result) {
  auto& st = self->state;
  if (st.phase == task_phase::exited) return;
  end_exec_sessions(self);  // a stop ended them already; an exit of its own ends them here
  st.phase = task_phase::exited;
  st.completed_at = caf::make_timestamp();
  st.result = std::move(result);
  for (auto& waiter : st.waiters) waiter.deliver(st.result);
  st.waiters.clear();
}

bool is_live(task_phase phase) {
  return phase == task_phase::starting || phase == task_phase::running ||
         phase == task_phase::stopping;
}

/// The pool operation a SignalTask signal stands for, if any.
std::optional<msg::pool_op> pool_op_for(const std::string& signal) {
  auto s = upper(signal);
  if (s == "SIGHUP" || s == "HUP" || s == "RECYCLE") return msg::pool_op::recycle;
  if (s == "START") return msg::pool_op::start;
  if (s == "STOP") return msg::pool_op::stop;
  return std::nullopt;
}

/// SIGINT or SIGKILL (any spelling signal_from_name knows) stop the site, as
/// they do on nomad-iis; 0 for any other signal.
int site_stop_signal_for(const std::string& signal) {
  const int number = iis::signal_from_name(signal);
  return number == SIGINT || number == SIGKILL ? number : 0;
}

caf::result<msg::started_task> start_site(task_actor_ptr self, iis::site_plan plan);

caf::result<msg::started_task> start(task_actor_ptr self, msg::start_task& m) {
  auto& st = self->state;
  st.task = std::move(m.task);
  iis::site_plan plan;
  try {
    auto cfg = config::decode_task_config(m.config_msgpack);
    config::validate(cfg, st.driver);
    plan = st.services.backend->plan_site(cfg, st.task, st.driver);
  } catch (const config::config_error& e) {
    self->quit();
    return caf::make_error(ec::invalid_config, std::string(e.what()));
  } catch (const std::exception& e) {
    self->quit();
    return caf::make_error(ec::invalid_config, std::string(e.what()));
  }
  return start_site(self, std::move(plan));
}

caf::result<msg::started_task> start_site(task_actor_ptr self, iis::site_plan plan) {
  auto& st = self->state;
  st.phase = task_phase::starting;
  auto rp = self->make_response_promise<msg::started_task>();
  run_op(
      self,
      [self, plan = std::move(plan)](site::done_fn done) mutable {
        site::start(self, std::move(plan), std::move(done));
      },
      [self, rp](std::optional<iis::failure> error) mutable {
        auto& st = self->state;
        if (error) {
          logging::log(*log(), spdlog::level::err, "task failed to start",
                       {{"task_id", st.task.task_id},
                        {"error", error->message},
                        {"reason", iis::to_string(error->code)}});
          // The error table says whether Nomad may retry (a port in use) or not (a bad web.config).
          rp.deliver(to_error(*error));
          self->quit();
          return;
        }
        st.phase = task_phase::running;
        st.started_at = caf::make_timestamp();
        announce(self);
        logging::log(*log(), spdlog::level::info, "task started", {{"task_id", st.task.task_id}});
        rp.deliver(msg::started_task{encode_state(self)});
      });
  return rp;
}

caf::result<void> recover(task_actor_ptr self, msg::recover_task& m) {
  auto& st = self->state;
  try {
    auto saved = decode_driver_state(m.driver_state);
    st.task = std::move(m.task);
    // Nomad's handle carries the task config; fill gaps from what we saved.
    if (st.task.alloc_id.empty()) st.task.alloc_id = saved.task.alloc_id;
    if (st.task.task_name.empty()) st.task.task_name = saved.task.task_name;
    if (st.task.alloc_dir.empty()) st.task.alloc_dir = saved.task.alloc_dir;
    if (st.task.job_name.empty()) st.task.job_name = saved.task.job_name;
    if (st.task.namespace_name.empty()) st.task.namespace_name = saved.task.namespace_name;
    if (st.task.group_name.empty()) st.task.group_name = saved.task.group_name;
    site::recover(self, iis::decode_state(saved.site));
    st.started_at = from_epoch_ns(saved.started_at_ns);
  } catch (const std::exception& e) {
    self->quit();
    return caf::make_error(ec::recover_failed, std::string(e.what()));
  }
  st.phase = task_phase::running;
  st.recovered = true;
  announce(self);
  logging::log(*log(), spdlog::level::info, "task recovered", {{"task_id", st.task.task_id}});
  // Answered once the pools know what runs; requests meanwhile wait their turn.
  auto rp = self->make_response_promise();
  run_op(
      self, [self](site::done_fn done) { site::settle(self, std::move(done)); },
      [rp](std::optional<iis::failure>) mutable { rp.deliver(caf::unit); });
  return rp;
}

/// A monitored actor went: an exec session, or the sender of a transfer.
void on_down(task_actor_ptr self, const caf::down_msg& down) {
  auto& sessions = self->state.exec_sessions;
  auto it = std::find_if(sessions.begin(), sessions.end(),
                         [&](const caf::actor& s) { return s.address() == down.source; });
  if (it != sessions.end()) {
    sessions.erase(it);
    return;
  }
  task_files::owner_gone(self, down.source);
}

/// Stops the site (apps get `app_signal`), then the task has exited with
/// `result` and `event` (if any) is published. Called from the operation queue.
void stop_site(task_actor_ptr self, caf::response_promise rp, std::chrono::milliseconds timeout,
               int app_signal, msg::exit_result result, std::string event = {}) {
  auto& st = self->state;
  if (st.phase != task_phase::running) {
    rp.deliver(caf::unit);
    return;
  }
  st.phase = task_phase::stopping;
  end_exec_sessions(self);
  run_op(
      self,
      [self, timeout, app_signal](site::done_fn done) {
        site::stop(self, timeout, app_signal, std::move(done));
      },
      [self, rp, result = std::move(result),
       event = std::move(event)](std::optional<iis::failure> error) mutable {
        if (error) {
          self->state.phase = task_phase::running;
          rp.deliver(to_error(*error, "stopping the site failed: "));
          return;
        }
        if (!event.empty()) publish(self, event, {{"operation", "stopped"}});
        mark_exited(self, std::move(result));
        rp.deliver(caf::unit);
      });
}

caf::result<void> stop(task_actor_ptr self, msg::stop_task& m) {
  if (!is_live(self->state.phase)) return caf::unit;
  auto rp = self->make_response_promise();
  auto timeout =
      m.timeout.count() > 0 ? m.timeout : std::chrono::milliseconds(timeouts::default_kill);
  int app_signal = m.signal.empty() ? SIGTERM : iis::signal_from_name(m.signal);
  if (app_signal == 0) app_signal = SIGTERM;
  enqueue(self, [self, rp, timeout, app_signal]() mutable {
    stop_site(self, rp, timeout, app_signal, msg::exit_result{});
  });
  return rp;
}

caf::result<void> destroy(task_actor_ptr self, msg::destroy_task& m) {
  if (is_live(self->state.phase) && !m.force)
    return caf::make_error(
        ec::task_running,
        std::string("task is still running; stop it first or destroy with force"));
  auto rp = self->make_response_promise();
  enqueue(self, [self, rp]() mutable {
    auto finish = [self, rp]() mutable {
      task_files::release_all(self);  // the task dir goes
      if (!self->state.plan) {
        rp.deliver(caf::unit);
        self->quit();
        return;
      }
      run_op(
          self, [self](site::done_fn done) { site::destroy(self, std::move(done)); },
          [self, rp](std::optional<iis::failure> error) mutable {
            if (is_live(self->state.phase))
              mark_exited(self, msg::exit_result{0, 9, false, "destroyed while running"});
            if (error) {
              logging::log(*log(), spdlog::level::warn, "destroy left something behind",
                           {{"task_id", self->state.task.task_id}, {"error", error->message}});
            }
            rp.deliver(caf::unit);
            self->quit();
          });
    };
    if (self->state.phase == task_phase::running) {
      self->state.phase = task_phase::stopping;
      end_exec_sessions(self);
      run_op(
          self,
          [self](site::done_fn done) {
            site::stop(self, std::chrono::milliseconds(timeouts::forced_destroy_drain), SIGTERM,
                       std::move(done));
          },
          [self, finish](std::optional<iis::failure>) mutable {
            mark_exited(self, msg::exit_result{});
            finish();
          });
    } else {
      finish();
    }
  });
  return rp;
}

/// SIGINT/SIGKILL as on nomad-iis: the site stops and the task exits (clean,
/// with the signal in its result), so Nomad's restart policy decides what next.
caf::result<void> stop_by_signal(task_actor_ptr self, int number, const std::string& name) {
  if (!is_live(self->state.phase)) return caf::unit;
  auto rp = self->make_response_promise();
  enqueue(self, [self, rp, number, name]() mutable {
    stop_site(self, rp, std::chrono::milliseconds(timeouts::default_kill), number,
              msg::exit_result{0, number, false, ""}, "Site stopped (signal " + name + ")");
  });
  return rp;
}

caf::result<void> signal(task_actor_ptr self, msg::signal_task& m) {
  const auto name = upper(m.signal);
  if (int number = site_stop_signal_for(name)) return stop_by_signal(self, number, name);
  auto op = pool_op_for(name);
  if (!op) {
    // nomad-iis ignores other signals; an error here would make Nomad kill
    // the task (template change_mode = "signal" with SIGUSR1, say).
    const auto shown = name.empty() ? std::string("(none)") : name;
    logging::log(*log(), spdlog::level::info, "signal ignored",
                 {{"task_id", self->state.task.task_id}, {"signal", shown}});
    publish(self,
            "Signal " + shown +
                " ignored: the iis driver acts on SIGHUP or RECYCLE (recycle the pools), START "
                "or STOP (start or stop the pools), SIGINT or SIGKILL (stop the site)",
            {{"signal", shown}, {"operation", "ignored"}});
    return caf::unit;
  }
  if (self->state.phase != task_phase::running)
    return caf::make_error(ec::operation_failed, std::string("the task is not running"));
  auto rp = self->make_response_promise();
  enqueue(self, [self, rp, op = *op, cause = "signal " + name]() mutable {
    run_pool_op(self, rp, op, {}, cause);
  });
  return rp;
}

/// Pool names of the request, checked against the site; empty = every pool.
caf::expected<std::vector<std::string>> known_pools(task_actor_ptr self,
                                                    const std::vector<std::string>& names) {
  const auto& pools = self->state.plan->pools;
  for (const auto& name : names) {
    auto it = std::find_if(pools.begin(), pools.end(),
                           [&](const iis::pool_plan& p) { return p.name == name; });
    if (it == pools.end()) {
      std::string known;
      for (const auto& p : pools) known += (known.empty() ? "" : ", ") + p.name;
      return caf::make_error(ec::invalid_argument,
                             "unknown application pool \"" + name + "\" (pools: " + known + ")");
    }
  }
  return names;
}

/// `nomad alloc exec`: the command runs in a pool's context (iis::plan_exec)
/// in a session of its own, which answers with itself once it started.
caf::result<msg::exec_opened> open_exec(task_actor_ptr self, msg::exec_open& m) {
  auto& st = self->state;
  if (st.phase != task_phase::running || !st.plan)
    return caf::make_error(ec::operation_failed, std::string("the task is not running"));
  iis::exec_request request;
  try {
    request = iis::plan_exec(*st.plan, std::move(m.command), m.tty);
  } catch (const std::exception& e) {
    return to_error(iis::failure_of(e, iis::errc::invalid_config));
  }
  logging::log(*log(), spdlog::level::info, "exec",
               {{"task_id", st.task.task_id},
                {"pool", request.pool},
                {"command", request.command.front()},
                {"tty", m.tty ? "true" : "false"}});
  auto session =
      self->spawn(exec_session, st.services.launcher, st.services.workers,
                  caf::actor_cast<caf::actor>(self), std::move(m.client), std::move(request));
  self->monitor(session);
  st.exec_sessions.push_back(session);
  auto rp = self->make_response_promise();
  rp.delegate(session, msg::exec_begin{});
  return rp;
}

caf::result<void> pool_command(task_actor_ptr self, msg::pool_command& m) {
  if (self->state.phase != task_phase::running || !self->state.plan)
    return caf::make_error(ec::operation_failed, std::string("the task is not running"));
  auto pools = known_pools(self, m.pools);
  if (!pools) return pools.error();
  auto rp = self->make_response_promise();
  enqueue(self, [self, rp, op = m.op, pools = std::move(*pools)]() mutable {
    run_pool_op(self, rp, op, pools, "Management API");
  });
  return rp;
}

msg::site_status site_status_of(task_actor_ptr self) {
  auto& st = self->state;
  msg::site_status s;
  s.task = summary_of(self);
  s.task_dir = st.task.task_dir();
  s.alloc_dir = st.task.alloc_dir;
  s.secrets_dir = s.task_dir + "/secrets";
  if (!st.plan) return s;
  const auto& plan = *st.plan;
  if (!plan.secrets_dir.empty()) s.secrets_dir = plan.secrets_dir;
  auto address = task_inspect::address_of(plan);
  s.http_url = std::move(address.url);
  s.http_hostname = std::move(address.hostname);
  const auto now = std::chrono::steady_clock::now();
  if (!st.api_usage_at || now - *st.api_usage_at >= timeouts::status_usage_window) {
    st.api_usage = st.api_cpu.update(site::sample_usage(self), now);
    st.api_usage_at = now;
  }
  const auto& usage = st.api_usage;
  for (const auto& pool : st.pool_views) {
    msg::pool_info info;
    info.name = plan.pools[pool.pool].name;
    info.status = iis::to_string(pool.status);
    for (const auto& w : site::pool_workers(self, pool)) info.worker_pids.push_back(w.pid);
    info.worker_running = !info.worker_pids.empty();
    if (auto it = usage.by_pool.find(info.name); it != usage.by_pool.end()) info.usage = it->second;
    s.pools.push_back(std::move(info));
  }
  return s;
}

}  // namespace

caf::error no_site_error() {
  return caf::make_error(ec::operation_failed, std::string("the task has no site"));
}

msg::site_status published_status(task_actor_ptr self) {
  auto s = site_status_of(self);
  if (auto& cell = self->state.status) {
    const auto sampled_at =
        self->state.api_usage_at.value_or(std::chrono::steady_clock::time_point{});
    cell->publish(std::make_shared<status_snapshot>(s, sampled_at));
  }
  return s;
}

namespace {

msg::task_status status_of(task_actor_ptr self) {
  const auto& st = self->state;
  msg::task_status s;
  s.id = st.task.task_id;
  s.name = st.task.task_name;
  s.state = st.phase == task_phase::exited ? msg::task_state::exited
            : is_live(st.phase)            ? msg::task_state::running
                                           : msg::task_state::unknown;
  s.started_at = st.started_at;
  s.completed_at = st.completed_at;
  s.result = st.result;
  s.attributes["recovered"] = st.recovered ? "true" : "false";
  if (st.plan) {
    s.attributes["front_pid"] = std::to_string(st.front_view.master.pid);
    for (const auto& pool : st.pool_views)
      s.attributes["pool." + st.plan->pools[pool.pool].name] = iis::to_string(pool.status);
  }
  return s;
}

/// The front died on its own: the pools go, the task has exited.
void on_front_died(task_actor_ptr self, iis::exit_status status) {
  if (self->state.phase != task_phase::running)
    return;  // starting/stopping report through their op
  enqueue(self, [self, status] {
    run_op(
        self,
        [self, status](site::done_fn done) {
          site::front_died(self, status, [self, done](msg::exit_result result) {
            auto& st = self->state;
            if (st.phase == task_phase::running) {
              logging::log(*log(), spdlog::level::err, "site exited on its own",
                           {{"task_id", st.task.task_id}, {"reason", result.err}});
              publish(self, "Site exited: " + result.err);
              mark_exited(self, std::move(result));
            }
            done(std::nullopt);
          });
        },
        nullptr);
  });
}

}  // namespace

caf::behavior task_actor(task_actor_ptr self, site_services services, caf::actor hub,
                         config::driver_config driver, caf::actor_addr supervisor,
                         std::shared_ptr<status_cell> status) {
  self->state.supervisor = std::move(supervisor);
  self->state.status = std::move(status);
  self->state.services = std::move(services);
  self->state.hub = std::move(hub);
  self->state.driver = std::move(driver);
  // Only exec sessions and the senders of file transfers are monitored.
  self->set_down_handler([self](const caf::down_msg& down) { on_down(self, down); });
  self->delayed_send(self, task_metrics::count_interval, atom::count_requests_v);
  return {
      [self](msg::start_task& m) { return start(self, m); },
      [self](msg::start_planned& m) {
        self->state.task = std::move(m.task);
        return start_site(self, std::move(m.plan));
      },
      [self](msg::get_site_snapshot) { return site::snapshot(self); },
      [self](msg::get_driver_state) -> caf::result<std::string> {
        if (!self->state.plan) return no_site_error();
        return encode_state(self);
      },
      [self](msg::recover_task& m) { return recover(self, m); },
      [self](msg::stop_task& m) { return stop(self, m); },
      [self](msg::destroy_task& m) { return destroy(self, m); },
      [self](msg::signal_task& m) { return signal(self, m); },
      [self](msg::inspect_task&) { return status_of(self); },
      [self](msg::wait_task&) -> caf::result<msg::exit_result> {
        if (self->state.phase == task_phase::exited) return self->state.result;
        auto rp = self->make_response_promise<msg::exit_result>();
        self->state.waiters.emplace_back(rp);
        return rp;
      },
      [self](msg::sample_stats&) -> caf::result<msg::task_stats> {
        if (!self->state.plan) return no_site_error();
        auto stats =
            self->state.cpu.update(site::sample_usage(self), std::chrono::steady_clock::now());
        stats.task_id = self->state.task.task_id;
        return stats;
      },
      [self](msg::get_site_status&) { return published_status(self); },
      [self](msg::get_task_metrics&) { return task_metrics::collect(self, summary_of(self)); },
      [self](msg::get_pool_workers& m) { return task_metrics::pool_workers(self, m.pool); },
      [self](msg::get_open_requests&) { return task_metrics::open_requests(self); },
      [self](atom::count_requests) { task_metrics::on_count_timer(self); },
      [self](msg::pool_command& m) { return pool_command(self, m); },
      [self](msg::exec_open& m) { return open_exec(self, m); },
      [self](msg::upload_begin& m) { return task_files::begin_upload(self, m); },
      [self](msg::upload_block& m) { return task_files::write_block(self, m); },
      [self](msg::upload_end& m) { return task_files::end_upload(self, m); },
      [self](msg::delete_path& m) { return task_files::remove(self, m); },
      [self](msg::download_begin& m) { return task_files::begin_download(self, m); },
      [self](msg::download_next& m) { return task_files::next_block(self, m); },
      [self](msg::list_folder& m) { return task_files::list(self, m); },
      [self](msg::take_screenshot& m) { return task_inspect::screenshot(self, m); },
      [self](msg::take_dump& m) { return task_inspect::dump(self, m); },
      [self](atom::hand_over) -> caf::result<void> {
        auto& st = self->state;
        if (!st.plan || st.pools.empty() || !is_live(st.phase)) return caf::unit;
        auto rp = self->make_response_promise();
        st.hand_over_waiters.push_back(rp);
        if (st.hand_over_waiters.size() == 1) {
          // May run beside another operation: the pools order it themselves.
          site::hand_over(self, [self] {
            for (auto& waiter : self->state.hand_over_waiters) waiter.deliver(caf::unit);
            self->state.hand_over_waiters.clear();
          });
        }
        return rp;
      },
      [self](msg::pool_view& view) {
        auto& views = self->state.pool_views;
        if (view.pool < views.size()) views[view.pool] = std::move(view);
        published_status(self);
      },
      [self](msg::front_view& view) {
        self->state.front_view = std::move(view);
        // The front's workers are the pool's when it serves its files.
        if (!site::front_served_pool(self).empty()) published_status(self);
      },
      [self](msg::front_died& died) { on_front_died(self, died.status); },
      [self](msg::served_exit& exit) {
        const auto& pools = self->state.pools;
        if (exit.pool < pools.size()) self->send(pools[exit.pool], std::move(exit));
      },
      [self](msg::task_event& ev) {
        const auto& st = self->state;
        ev.task_id = st.task.task_id;
        ev.alloc_id = st.task.alloc_id;
        ev.task_name = st.task.task_name;
        if (ev.timestamp == caf::timestamp{}) ev.timestamp = caf::make_timestamp();
        if (st.hub) self->send(st.hub, std::move(ev));
      },
  };
}

}  // namespace nomad_iis
