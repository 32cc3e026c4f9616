#include "actors/task_actor.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include <caf/all.hpp>

#include "actors/driver_state.hpp"
#include "actors/timeouts.hpp"
#include "common/logging.hpp"
#include "config/error.hpp"
#include "config/task_config.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

auto log() {
  static auto logger = logging::get("task");
  return logger;
}

/// Forwards what the site reports to the owning actor; holds only a weak
/// address so a site kept alive by a backend thread never keeps the actor alive.
class actor_observer final : public iis::site_observer {
 public:
  explicit actor_observer(caf::actor_addr owner) : owner_(std::move(owner)) {}

  void on_event(const iis::site_event& event) override {
    if (auto owner = caf::actor_cast<caf::actor>(owner_)) {
      msg::task_event ev;
      ev.message = event.message;
      ev.annotations = event.annotations;
      caf::anon_send(owner, std::move(ev));
    }
  }

  void on_exit(const iis::exit_info& info) override {
    if (auto owner = caf::actor_cast<caf::actor>(owner_))
      caf::anon_send(owner, atom::site_exit_v, info.exit_code, info.signal, info.reason);
  }

 private:
  caf::actor_addr owner_;
};

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
  st.site = self->state.site->save_state();
  return encode(st);
}

/// Runs `op` (which starts one backend operation) and, when the backend
/// reports completion, `then`. Must only be called while not busy.
void run_op(task_actor_ptr self, std::function<void(iis::completion)> op,
            std::function<void(std::optional<iis::failure>)> then) {
  auto& st = self->state;
  st.busy = true;
  st.continuation = std::move(then);
  auto id = ++st.op_id;
  auto addr = self->address();
  op([addr, id](std::optional<iis::failure> error) {
    if (auto owner = caf::actor_cast<caf::actor>(addr)) {
      if (error)
        caf::anon_send(owner, atom::done_v, id, false, static_cast<std::uint8_t>(error->code),
                       std::move(error->message));
      else
        caf::anon_send(owner, atom::done_v, id, true, std::uint8_t{0}, std::string{});
    }
  });
}

/// Queues `work` (which normally calls run_op) behind the operation in flight.
void enqueue(task_actor_ptr self, std::function<void()> work) {
  if (self->state.busy) {
    self->state.queued.push_back(std::move(work));
    return;
  }
  work();
}

void run_queued(task_actor_ptr self) {
  while (!self->state.busy && !self->state.queued.empty()) {
    auto next = std::move(self->state.queued.front());
    self->state.queued.pop_front();
    next();
  }
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
  if (st.site) s.site_name = st.site->plan().site_name;
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
    for (const auto& p : self->state.site->plan().pools)
      names += (names.empty() ? "" : ", ") + p.name;
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
  run_op(
      self,
      [site = self->state.site.get(), op, pools](iis::completion done) {
        switch (op) {
          case msg::pool_op::start:
            site->start_pools(pools, std::move(done));
            break;
          case msg::pool_op::stop:
            site->stop_pools(pools, std::move(done));
            break;
          default:
            site->recycle_pools(pools, std::move(done));
            break;
        }
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

void mark_exited(task_actor_ptr self, msg::exit_result result) {
  auto& st = self->state;
  if (st.phase == task_phase::exited) return;
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

caf::result<msg::started_task> start(task_actor_ptr self, msg::start_task& m) {
  auto& st = self->state;
  st.task = std::move(m.task);
  iis::site_plan plan;
  try {
    auto cfg = config::decode_task_config(m.config_msgpack);
    config::validate(cfg, st.driver);
    plan = st.backend->plan_site(cfg, st.task, st.driver);
  } catch (const config::config_error& e) {
    self->quit();
    return caf::make_error(ec::invalid_config, std::string(e.what()));
  } catch (const std::exception& e) {
    self->quit();
    return caf::make_error(ec::invalid_config, std::string(e.what()));
  }
  try {
    st.site =
        st.backend->create_site(std::move(plan), std::make_shared<actor_observer>(self->address()));
  } catch (const std::exception& e) {
    self->quit();
    return caf::make_error(ec::start_failed, std::string(e.what()));
  }
  st.phase = task_phase::starting;
  auto rp = self->make_response_promise<msg::started_task>();
  run_op(
      self, [site = st.site.get()](iis::completion done) { site->start(std::move(done)); },
      [self, rp](std::optional<iis::failure> error) mutable {
        auto& st = self->state;
        if (error) {
          logging::log(*log(), spdlog::level::err, "task failed to start",
                       {{"task_id", st.task.task_id},
                        {"error", error->message},
                        {"reason", iis::to_string(error->code)}});
          // The error table says whether Nomad may retry (a port in use) or not (a bad web.config).
          rp.deliver(to_error(*error));
          st.site.reset();
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
    st.site =
        st.backend->recover_site(saved.site, std::make_shared<actor_observer>(self->address()));
    st.started_at = from_epoch_ns(saved.started_at_ns);
  } catch (const std::exception& e) {
    self->quit();
    return caf::make_error(ec::recover_failed, std::string(e.what()));
  }
  st.phase = task_phase::running;
  st.recovered = true;
  announce(self);
  logging::log(*log(), spdlog::level::info, "task recovered", {{"task_id", st.task.task_id}});
  return caf::unit;
}

caf::result<void> stop(task_actor_ptr self, msg::stop_task& m) {
  if (!is_live(self->state.phase)) return caf::unit;
  auto rp = self->make_response_promise();
  auto timeout =
      m.timeout.count() > 0 ? m.timeout : std::chrono::milliseconds(timeouts::default_kill);
  enqueue(self, [self, rp, timeout, signal = std::move(m.signal)]() mutable {
    auto& st = self->state;
    if (st.phase != task_phase::running) {
      rp.deliver(caf::unit);
      return;
    }
    st.phase = task_phase::stopping;
    run_op(
        self,
        [site = st.site.get(), timeout, signal](iis::completion done) {
          site->stop(timeout, signal, std::move(done));
        },
        [self, rp](std::optional<iis::failure> error) mutable {
          if (error) {
            self->state.phase = task_phase::running;
            rp.deliver(to_error(*error, "stopping the site failed: "));
            return;
          }
          mark_exited(self, msg::exit_result{});
          rp.deliver(caf::unit);
        });
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
      if (!self->state.site) {
        rp.deliver(caf::unit);
        self->quit();
        return;
      }
      run_op(
          self,
          [site = self->state.site.get()](iis::completion done) { site->destroy(std::move(done)); },
          [self, rp](std::optional<iis::failure> error) mutable {
            if (is_live(self->state.phase))
              mark_exited(self, msg::exit_result{0, 9, false, "destroyed while running"});
            if (error) {
              logging::log(*log(), spdlog::level::warn, "destroy left something behind",
                           {{"task_id", self->state.task.task_id}, {"error", error->message}});
            }
            rp.deliver(caf::unit);
            self->state.site.reset();
            self->quit();
          });
    };
    if (self->state.phase == task_phase::running) {
      self->state.phase = task_phase::stopping;
      run_op(
          self,
          [site = self->state.site.get()](iis::completion done) {
            site->stop(std::chrono::milliseconds(timeouts::forced_destroy_drain), "",
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

caf::result<void> signal(task_actor_ptr self, msg::signal_task& m) {
  auto op = pool_op_for(m.signal);
  if (!op)
    return caf::make_error(ec::unsupported,
                           "signal " + m.signal +
                               " is not supported; use SIGHUP or RECYCLE (recycle every pool), "
                               "START or STOP (start or stop every pool)");
  if (self->state.phase != task_phase::running)
    return caf::make_error(ec::operation_failed, std::string("the task is not running"));
  auto rp = self->make_response_promise();
  enqueue(self, [self, rp, op = *op, cause = "signal " + upper(m.signal)]() mutable {
    run_pool_op(self, rp, op, {}, cause);
  });
  return rp;
}

/// Pool names of the request, checked against the site; empty = every pool.
caf::expected<std::vector<std::string>> known_pools(task_actor_ptr self,
                                                    const std::vector<std::string>& names) {
  const auto& pools = self->state.site->plan().pools;
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

caf::result<void> pool_command(task_actor_ptr self, msg::pool_command& m) {
  if (self->state.phase != task_phase::running || !self->state.site)
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
  if (!st.site) return s;
  const auto& plan = st.site->plan();
  if (!plan.secrets_dir.empty()) s.secrets_dir = plan.secrets_dir;
  for (const auto& b : plan.bindings) {
    if (b.type != config::binding_type::http) continue;
    auto ip = b.ip.empty() || b.ip == "*" || b.ip == "0.0.0.0" ? std::string("127.0.0.1") : b.ip;
    s.http_url = "http://" + (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" +
                 std::to_string(b.port);
    s.http_hostname = b.hostname;
    break;
  }
  auto snap = st.site->snapshot();
  auto usage = st.api_cpu.update(st.site->sample_usage(), std::chrono::steady_clock::now());
  for (const auto& pool : snap.pools) {
    msg::pool_info info;
    info.name = pool.name;
    info.status = iis::to_string(pool.status);
    for (const auto& w : pool.workers) info.worker_pids.push_back(w.pid);
    info.worker_running = !info.worker_pids.empty();
    if (auto it = usage.by_pool.find(pool.name); it != usage.by_pool.end()) info.usage = it->second;
    s.pools.push_back(std::move(info));
  }
  return s;
}

void release_lease(task_actor_ptr self, caf::response_promise rp) {
  auto& st = self->state;
  st.site->refresh_access();  // queued in the site before the pools restart
  auto pools = std::move(st.lease_pools);
  st.lease.reset();
  st.lease_pools.clear();
  st.busy = false;
  if (pools.empty() || st.phase != task_phase::running) {
    if (rp.pending()) rp.deliver(caf::unit);
    run_queued(self);
    return;
  }
  run_op(
      self,
      [site = st.site.get(), pools](iis::completion done) {
        site->start_pools(pools, std::move(done));
      },
      [rp](std::optional<iis::failure> error) mutable {
        if (!rp.pending()) return;
        if (error)
          rp.deliver(to_error(*error, "restarting the pools failed: "));
        else
          rp.deliver(caf::unit);
      });
}

caf::result<msg::change_ticket> begin_change(task_actor_ptr self, msg::begin_change& m) {
  if (!self->state.site)
    return caf::make_error(ec::operation_failed, std::string("the task has no site"));
  auto rp = self->make_response_promise<msg::change_ticket>();
  enqueue(self, [self, rp, m]() mutable {
    auto& st = self->state;
    std::vector<std::string> to_stop;
    if (m.stop_pools && st.phase == task_phase::running) {
      auto serving = st.site->pools_serving(m.path);
      for (const auto& pool : st.site->snapshot().pools) {
        bool running =
            pool.status == iis::pool_status::started || pool.status == iis::pool_status::starting;
        if (running && std::find(serving.begin(), serving.end(), pool.name) != serving.end())
          to_stop.push_back(pool.name);
      }
    }
    auto grant = [self, rp](std::vector<std::string> stopped) mutable {
      auto& st = self->state;
      auto id = ++st.next_lease;
      st.lease = id;
      st.lease_pools = stopped;
      st.busy = true;  // everything else waits until end_change
      self->delayed_send(self, timeouts::change_lease, atom::lease_expired_v, id);
      rp.deliver(msg::change_ticket{id, std::move(stopped)});
    };
    if (to_stop.empty()) {
      grant({});
      return;
    }
    run_op(
        self,
        [site = st.site.get(), to_stop](iis::completion done) {
          site->stop_pools(to_stop, std::move(done));
        },
        [self, rp, grant, to_stop](std::optional<iis::failure> error) mutable {
          if (error) {
            rp.deliver(to_error(*error, "stopping the pools failed: "));
            return;
          }
          grant(to_stop);
        });
  });
  return rp;
}

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
  if (st.site) {
    auto snap = st.site->snapshot();
    s.attributes["front_pid"] = std::to_string(snap.front.pid);
    for (const auto& pool : snap.pools)
      s.attributes["pool." + pool.name] = iis::to_string(pool.status);
  }
  return s;
}

}  // namespace

caf::behavior task_actor(task_actor_ptr self, std::shared_ptr<iis::backend> backend, caf::actor hub,
                         config::driver_config driver, caf::actor_addr supervisor) {
  self->state.supervisor = std::move(supervisor);
  self->state.backend = std::move(backend);
  self->state.hub = std::move(hub);
  self->state.driver = std::move(driver);
  return {
      [self](msg::start_task& m) { return start(self, m); },
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
        if (!self->state.site) return caf::make_error(ec::operation_failed, std::string("no site"));
        auto stats = self->state.cpu.update(self->state.site->sample_usage(),
                                            std::chrono::steady_clock::now());
        stats.task_id = self->state.task.task_id;
        return stats;
      },
      [self](msg::get_site_status&) { return site_status_of(self); },
      [self](msg::pool_command& m) { return pool_command(self, m); },
      [self](msg::begin_change& m) { return begin_change(self, m); },
      [self](msg::end_change& m) -> caf::result<void> {
        if (!self->state.lease || *self->state.lease != m.id)
          return caf::make_error(ec::invalid_argument, std::string("no such change in progress"));
        auto rp = self->make_response_promise();
        release_lease(self, rp);
        return rp;
      },
      [self](atom::hand_over) -> caf::result<void> {
        auto& st = self->state;
        if (!st.site || !is_live(st.phase)) return caf::unit;
        auto rp = self->make_response_promise();
        st.hand_over_waiters.push_back(rp);
        if (st.hand_over_waiters.size() == 1) {
          auto addr = self->address();
          st.site->hand_over([addr](std::optional<iis::failure>) {
            if (auto owner = caf::actor_cast<caf::actor>(addr))
              caf::anon_send(owner, atom::handed_over_v);
          });
        }
        return rp;
      },
      [self](atom::handed_over) {
        for (auto& rp : self->state.hand_over_waiters) rp.deliver(caf::unit);
        self->state.hand_over_waiters.clear();
      },
      [self](atom::lease_expired, std::uint64_t id) {
        auto& st = self->state;
        if (!st.lease || *st.lease != id) return;
        logging::log(*log(), spdlog::level::warn,
                     "a file change did not finish in time; pools restored",
                     {{"task_id", st.task.task_id}});
        release_lease(self, caf::response_promise{});
      },
      [self](atom::done, std::uint64_t id, bool ok, std::uint8_t code, std::string& error) {
        auto& st = self->state;
        if (id != st.op_id || !st.busy) return;  // a late report of an abandoned operation
        auto then = std::move(st.continuation);
        st.continuation = nullptr;
        st.busy = false;
        if (then)
          then(ok ? std::nullopt
                  : std::optional<iis::failure>(
                        iis::failure{static_cast<iis::errc>(code), std::move(error)}));
        run_queued(self);
      },
      [self](atom::site_exit, std::int32_t code, std::int32_t sig, std::string& reason) {
        auto& st = self->state;
        if (st.phase != task_phase::running) return;  // starting/stopping report through their op
        logging::log(*log(), spdlog::level::err, "site exited on its own",
                     {{"task_id", st.task.task_id}, {"reason", reason}});
        msg::exit_result r;
        r.signal = sig;
        r.exit_code = code != 0 ? code : (sig != 0 ? 128 + sig : 1);
        r.err = reason.empty() ? "the site's web server exited" : reason;
        publish(self, "Site exited: " + r.err);
        mark_exited(self, std::move(r));
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
