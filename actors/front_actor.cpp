#include "actors/front_actor.hpp"

#include <fcntl.h>
#include <signal.h>

#include <algorithm>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/timeouts.hpp"
#include "iis/site_layout.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

/// How long a new generation (or, in place, new workers) may take to run.
constexpr auto reload_limit = std::chrono::seconds(10);
/// In place: how long old workers may take to stop accepting.
constexpr auto retire_limit = std::chrono::seconds(5);
/// How long an older generation's clients get to leave before it quits
/// (busy ones leave within keepalive_requests; idle ones are closed then).
constexpr auto drain_limit = std::chrono::seconds(10);
constexpr auto drain_interval = std::chrono::milliseconds(50);
/// With a new answer, how often the older generations' queues are looked at.
constexpr auto cut_interval = std::chrono::milliseconds(5);
/// Generations draining side by side beyond this: the oldest quits at once.
constexpr std::size_t max_draining = 32;

using finished_fn = std::function<void()>;
using other_generation = front_actor_state::other_generation;

void publish(front_actor_ptr self) {
  auto& st = self->state;
  msg::front_view view;
  view.master = st.master;
  view.generation = st.generation;
  for (const auto& old : st.draining) view.draining.push_back({old.generation, old.master});
  for (const auto& [pid, worker] : st.workers) {
    if (!worker.retiring) view.workers.push_back(worker.ref);
  }
  if (st.last_view && st.last_view->master == view.master &&
      st.last_view->workers == view.workers && st.last_view->draining == view.draining)
    return;
  st.last_view = view;
  if (auto owner = caf::actor_cast<caf::actor>(st.ctx.owner)) self->send(owner, std::move(view));
}

void run_exclusive(front_actor_ptr self, std::function<void(finished_fn)> op) {
  self->state.ops.run(std::move(op));
}

std::string front_log(front_actor_ptr self) {
  return iis::layout::alert_log(self->state.ctx.plan->data_dir, iis::layout::front_instance);
}

std::vector<int> fds_of(const std::vector<unique_fd>& members) {
  std::vector<int> fds;
  for (const auto& member : members) fds.push_back(member.get());
  return fds;
}

void track_worker(front_actor_ptr self, const iis::process_ref& ref, bool retiring = false) {
  auto& st = self->state;
  if (st.workers.count(ref.pid) && st.workers[ref.pid].ref == ref) return;
  st.workers[ref.pid] = front_actor_state::worker{ref, retiring};
  watch_process(self, *st.ctx.launcher, ref);
}

std::vector<iis::process_ref> front_processes(front_actor_ptr self) {
  std::vector<iis::process_ref> out;
  if (self->state.master.pid) out.push_back(self->state.master);
  if (self->state.starting.master.pid) out.push_back(self->state.starting.master);
  for (const auto& old : self->state.draining) out.push_back(old.master);
  for (const auto& [pid, worker] : self->state.workers) out.push_back(worker.ref);
  return out;
}

/// Learns the current master's workers, once at least one runs that is not
/// retiring: `next` gets them all, also those another wait learned first (a
/// start's wait may see a crashed worker's replacement before the crash's
/// own wait does); nothing at the deadline.
void adopt(front_actor_ptr self, poller::time_point deadline,
           std::function<void(std::vector<iis::process_ref>)> next) {
  auto current = std::make_shared<std::vector<iis::process_ref>>();
  self->state.polls.start(
      self,
      [self, current] {
        auto& st = self->state;
        current->clear();
        for (const auto& child : st.ctx.launcher->children(st.master)) {
          auto it = st.workers.find(child.pid);
          if (it == st.workers.end()) {
            if (st.ctx.launcher->shutting_down(child)) continue;
            track_worker(self, child);
            current->push_back(child);
          } else if (it->second.ref == child && !it->second.retiring) {
            current->push_back(child);
          }
        }
        return !current->empty();
      },
      deadline, adopt_interval, [current, next = std::move(next)](bool) { next(*current); });
}

/// Marks every known worker as retiring; returns them.
std::vector<iis::process_ref> retire_workers(front_actor_ptr self) {
  std::vector<iis::process_ref> old;
  for (auto& [pid, worker] : self->state.workers) {
    if (worker.retiring) continue;
    worker.retiring = true;
    old.push_back(worker.ref);
  }
  return old;
}

void unretire(front_actor_ptr self, const std::vector<iis::process_ref>& workers) {
  for (const auto& worker : workers) {
    auto it = self->state.workers.find(worker.pid);
    if (it != self->state.workers.end() && it->second.ref == worker) it->second.retiring = false;
  }
}

/// Writes the configuration of `generation` on a blocking worker.
void write_conf(front_actor_ptr self, std::uint32_t generation,
                std::function<void(std::optional<iis::failure>)> next) {
  auto plan = self->state.ctx.plan;
  off_thread<caf::unit_t>(
      self, self->state.ctx.workers,
      [plan, host = self->state.ctx.host, routes = self->state.routes, log = front_log(self),
       generation] {
        host->write_front_conf(*plan, routes, generation);
        host->trim_log(log);
      },
      [next](job_result<caf::unit_t> written) {
        if (written.ok())
          next(std::nullopt);
        else
          next(iis::failure{written.error.code, "front configuration: " + written.error.message});
      });
}

/// A generation the blocking worker started.
struct spawned_generation {
  iis::process_ref master;
  std::shared_ptr<std::vector<unique_fd>> members;
  std::shared_ptr<unique_fd> reader;  ///< the stdout FIFO's reader, held until it runs
};

/// Copies of the current members, for a generation that replaces a dead
/// master on them (what queued in their backlogs is served then).
std::shared_ptr<std::vector<unique_fd>> copy_members(front_actor_ptr self) {
  auto copies = std::make_shared<std::vector<unique_fd>>();
  for (const auto& member : self->state.members)
    copies->emplace_back(::fcntl(member.get(), F_DUPFD_CLOEXEC, 3));
  return copies;
}

/// Joins the listen groups (or takes `reuse`) and starts generation
/// `number` with `outputs` (null: the task's FIFOs, opened now whether or
/// not logmon reads them).
void spawn_generation(front_actor_ptr self, std::uint32_t number, outputs_ptr outputs,
                      std::function<void(job_result<spawned_generation>)> next,
                      std::shared_ptr<std::vector<unique_fd>> reuse = nullptr) {
  auto& st = self->state;
  off_thread<spawned_generation>(
      self, st.ctx.workers,
      [plan = st.ctx.plan, launcher = st.ctx.launcher, host = st.ctx.host, outputs, number,
       served = iis::front_served_pool(st.routes), reuse] {
        spawned_generation out;
        // Held until it runs: nginx's open of /dev/stdout must not block.
        out.reader = std::make_shared<unique_fd>(host->hold_fifo_reader(plan->stdout_path));
        iis::output_fds own;
        if (!outputs) {
          const auto err_reader = host->hold_fifo_reader(plan->stderr_path);
          host->try_open_outputs(*plan, own);
        }
        const auto& fds = outputs ? *outputs : own;
        out.members =
            reuse ? reuse
                  : std::make_shared<std::vector<unique_fd>>(host->join_front_groups(*plan));
        auto request = host->front_request(*plan, number, fds_of(*out.members), served);
        request.stdout_fd = fds.out.get();
        request.stderr_fd = fds.err.get();
        try {
          out.master = launcher->spawn(request);
        } catch (const std::exception& e) {
          throw iis::backend_error(iis::code_of(e, iis::errc::process_failed),
                                   std::string("nginx (front): ") + e.what());
        }
        return out;
      },
      std::move(next));
}

/// Waits until `master` runs a worker (its sockets are ours, so a connect
/// proves nothing).
void wait_workers(front_actor_ptr self, const iis::process_ref& master, iis::duration limit,
                  std::function<void(std::optional<iis::failure>)> next) {
  auto& st = self->state;
  ready_target target;
  target.what = "the front nginx";
  target.nginx_workers = true;
  target.owner = master;
  target.owner_log = front_log(self);
  target.deadline = self->clock().now() + limit;
  target.limit_text = iis::seconds_text(limit);
  wait_ready(self, st.polls, st.ctx, {target}, std::move(next));
}

void start(front_actor_ptr self, caf::typed_response_promise<msg::front_view> rp,
           finished_fn finished) {
  auto& st = self->state;
  iis::duration limit = std::chrono::seconds(1);
  for (const auto& pool : st.ctx.plan->pools) limit = std::max(limit, pool.start_time_limit);
  auto fail = [rp, finished](const iis::failure& error) mutable {
    rp.deliver(to_error(error));
    finished();
  };
  auto started = [self, rp, finished]() mutable {
    self->state.started = true;
    publish(self);
    rp.deliver(*self->state.last_view);
    finished();
  };
  write_conf(self, 1, [self, fail, started, limit](std::optional<iis::failure> error) mutable {
    if (error) return fail(*error);
    auto& st = self->state;
    open_outputs(
        self, st.polls, st.ctx, self->clock().now() + limit, false, [] { return false; },
        [self, fail, started, limit](std::optional<iis::failure> error,
                                     outputs_ptr outputs) mutable {
          if (error) return fail(*error);
          spawn_generation(self, 1, outputs, [self, fail, started, limit](auto spawned) mutable {
            if (!spawned.ok()) return fail(spawned.error);
            auto& st = self->state;
            auto reader = spawned.value->reader;
            st.master = spawned.value->master;
            st.generation = 1;
            st.members = std::move(*spawned.value->members);
            watch_process(self, *st.ctx.launcher, st.master);
            // Its workers from the moment nginx forks them: should the start
            // fail later (the master died), the kill finds them.
            adopt(self, self->clock().now() + limit, [](auto) {});
            wait_workers(self, st.master, limit, [self, fail, started, reader](auto error) mutable {
              if (error) return fail(*error);
              adopt(self, self->clock().now() + adopt_limit, [started, reader](auto) mutable {
                reader->reset();
                started();
              });
            });
          });
        });
  });
}

/// An earlier release's front (its sockets its own): SIGHUP, as it was reloaded then.
void reload_in_place(front_actor_ptr self, caf::typed_response_promise<msg::front_reloaded> rp,
                     finished_fn finished) {
  write_conf(self, self->state.generation, [self, rp, finished](auto error) mutable {
    if (error) {
      rp.deliver(to_error(*error));
      finished();
      return;
    }
    auto& st = self->state;
    const auto old_workers = retire_workers(self);
    // nginx reopens /dev/stdout (the task's stdout FIFO) while it reloads;
    // with no reader that open would block its master until logmon came back.
    auto reader =
        std::make_shared<unique_fd>(st.ctx.host->hold_fifo_reader(st.ctx.plan->stdout_path));
    st.ctx.launcher->signal(st.master, SIGHUP);
    adopt(
        self, self->clock().now() + reload_limit,
        [self, rp, finished, old_workers, reader](std::vector<iis::process_ref> adopted) mutable {
          reader->reset();  // new workers run: the master opened its logs
          auto& st = self->state;
          if (adopted.empty()) {
            unretire(self, old_workers);
            const auto why = st.ctx.host->last_emergency(front_log(self));
            rp.deliver(to_error({iis::errc::process_failed, "the front nginx did not reload" +
                                                                (why.empty() ? "" : ": " + why)}));
            finished();
            return;
          }
          wait_retired(self, st.polls, *st.ctx.launcher, old_workers,
                       self->clock().now() + retire_limit,
                       [rp, finished, old_workers, adopted]() mutable {
                         rp.deliver(msg::front_reloaded{old_workers, adopted});
                         finished();
                       });
        });
  });
}

other_generation* find_draining(front_actor_ptr self, const iis::process_ref& master) {
  for (auto& old : self->state.draining)
    if (old.master == master) return &old;
  return nullptr;
}

/// A draining generation's processes are gone (or were killed): its sockets go.
void forget_draining(front_actor_ptr self, const iis::process_ref& master) {
  auto& draining = self->state.draining;
  draining.erase(std::remove_if(draining.begin(), draining.end(),
                                [&](const other_generation& old) { return old.master == master; }),
                 draining.end());
  publish(self);
}

/// The draining generation of `master` quits now; what it still serves
/// gets the pools' shutdown time limit.
void quit_draining(front_actor_ptr self, const iis::process_ref& master) {
  auto& st = self->state;
  auto* old = find_draining(self, master);
  if (!old || old->quitting) return;
  old->quitting = true;
  st.ctx.launcher->signal(master, SIGQUIT);
  std::vector<iis::process_ref> processes{master};
  processes.insert(processes.end(), old->workers.begin(), old->workers.end());
  const auto limit = iis::longest_shutdown_time_limit(*st.ctx.plan);
  wait_gone(self, st.polls, *st.ctx.launcher, processes, self->clock().now() + limit + kill_grace,
            [self, master](std::vector<iis::process_ref> left) {
              auto& st = self->state;
              const auto killed = kill_all(*st.ctx.launcher, left);
              wait_gone(self, st.polls, *st.ctx.launcher, killed, self->clock().now() + kill_grace,
                        [self, master](auto) { forget_draining(self, master); });
            });
}

/// Keeps at most max_draining generations draining: the oldest go first.
void limit_draining(front_actor_ptr self) {
  std::vector<iis::process_ref> active;
  for (const auto& old : self->state.draining)
    if (!old.quitting) active.push_back(old.master);
  for (std::size_t i = 0; i + max_draining < active.size(); ++i) quit_draining(self, active[i]);
}

/// Once the clients of the draining generation of `master` left (after
/// timeouts::front_drain_minimum), or drain_limit passed, it quits. Beside the changes:
/// any number of generations drain at once.
void drain(front_actor_ptr self, const iis::process_ref& master) {
  const auto since = self->clock().now();
  auto empty = std::make_shared<bool>(false);
  auto asking = std::make_shared<bool>(false);
  self->state.polls.start(
      self,
      [self, master, since, empty, asking] {
        auto& st = self->state;
        const auto* old = find_draining(self, master);
        if (!old || old->quitting) return true;  // a stop, a kill or the limit took it
        // Connections the kernel queued for it before the steering moved are
        // still to be accepted: closing its sockets now would reset them.
        if (st.ctx.host->queued_front_connections(fds_of(old->members)) > 0) {
          *empty = false;  // and then counted
          return false;
        }
        if (self->clock().now() - since < timeouts::front_drain_minimum) return false;
        if (*empty) return true;
        if (*asking) return false;
        *asking = true;
        off_thread<bool>(
            self, st.ctx.workers,
            [plan = st.ctx.plan, host = st.ctx.host, generation = old->generation] {
              const auto left = host->front_connections(*plan, generation);
              return !left || left->active == 0;
            },
            [empty, asking](job_result<bool> gone) {
              *asking = false;
              *empty = !gone.ok() || *gone.value;
            });
        return false;
      },
      since + drain_limit, drain_interval, [self, master](bool) { quit_draining(self, master); });
}

/// Whether a handshake the kernel began before the steering moved may still
/// complete on an older generation's member: within front_drain_minimum, one
/// open on the site's ports (every generation listens on the same ones).
bool handshakes_pending(front_actor_ptr self, caf::actor_clock::time_point since) {
  auto& st = self->state;
  if (self->clock().now() - since >= timeouts::front_drain_minimum) return false;
  try {
    return st.ctx.host->handshaking_front_connections(fds_of(st.members)) > 0;
  } catch (const iis::backend_error&) {
    return true;  // unknown: the minimum holds
  }
}

/// The pool's answer changed: every older generation ends its clients'
/// kept connections, each as soon as nothing the kernel began for it is left
/// to accept (QUIT: nginx closes the idle ones and ends a busy one after its
/// request), and `done` once their workers took that in. Their processes
/// may outlive the reply with requests asked before the change.
void end_draining(front_actor_ptr self, std::function<void()> done) {
  const auto since = self->clock().now();
  self->state.polls.start(
      self,
      [self, since] {
        auto& st = self->state;
        if (handshakes_pending(self, since)) return false;
        std::vector<iis::process_ref> ready;  // nothing queued for them is left to accept
        for (const auto& old : st.draining)
          if (!old.quitting && st.ctx.host->queued_front_connections(fds_of(old.members)) == 0)
            ready.push_back(old.master);
        for (const auto& master : ready) quit_draining(self, master);
        return std::all_of(st.draining.begin(), st.draining.end(),
                           [](const other_generation& old) { return old.quitting; });
      },
      since + drain_limit, cut_interval,
      [self, done](bool) {
        auto& st = self->state;
        std::vector<iis::process_ref> masters;
        std::vector<iis::process_ref> workers;
        for (const auto& old : st.draining) {
          masters.push_back(old.master);
          workers.insert(workers.end(), old.workers.begin(), old.workers.end());
        }
        for (const auto& master : masters) quit_draining(self, master);  // past the limit
        wait_retired(self, st.polls, *st.ctx.launcher, std::move(workers),
                     self->clock().now() + retire_limit, done);
      });
}

/// The next generation did not run: it goes; the current one never stopped serving.
void abandon_next(front_actor_ptr self, const iis::failure& error,
                  caf::typed_response_promise<msg::front_reloaded> rp, finished_fn finished) {
  auto& st = self->state;
  if (st.starting.master.pid) kill_all(*st.ctx.launcher, {st.starting.master});
  st.starting = other_generation{};  // its members close here
  const auto why = st.ctx.host->last_emergency(front_log(self));
  rp.deliver(to_error({error.code, "the front nginx did not start a new generation: " +
                                       error.message + (why.empty() ? "" : " (" + why + ")")}));
  finished();
}

/// The next generation runs: it takes every new connection and becomes
/// the current one; the current one drains.
void promote_next(front_actor_ptr self, msg::front_change change, std::shared_ptr<unique_fd> reader,
                  caf::typed_response_promise<msg::front_reloaded> rp, finished_fn finished) {
  auto& st = self->state;
  try {
    st.ctx.host->steer_front_groups(fds_of(st.steering), fds_of(st.starting.members));
  } catch (const std::exception& e) {
    return abandon_next(self, iis::failure_of(e, iis::errc::io_failure), rp, finished);
  }
  const auto old = retire_workers(self);
  const auto previous = st.master;
  st.draining.push_back(
      other_generation{st.master, st.generation, std::move(st.members), old, false});
  st.master = st.starting.master;
  st.generation = st.starting.generation;
  st.members = std::move(st.starting.members);
  st.starting = other_generation{};
  drain(self, previous);
  limit_draining(self);
  adopt(self, self->clock().now() + adopt_limit,
        [self, change, rp, finished, old, reader](std::vector<iis::process_ref> adopted) mutable {
          reader->reset();
          publish(self);
          auto answer = [rp, finished, old, adopted]() mutable {
            rp.deliver(msg::front_reloaded{old, adopted});
            finished();
          };
          if (change == msg::front_change::new_answer) return end_draining(self, answer);
          answer();
        });
}

/// The groups' steering, made once (and again after a plugin restart, in
/// place of the one the previous plugin made) on copies of the current members.
void with_steering(front_actor_ptr self, std::function<void(std::optional<iis::failure>)> next) {
  auto& st = self->state;
  if (!st.steering.empty()) return next(std::nullopt);
  using maps = std::shared_ptr<std::vector<unique_fd>>;
  off_thread<maps>(
      self, st.ctx.workers,
      [host = st.ctx.host, members = copy_members(self)] {
        return std::make_shared<std::vector<unique_fd>>(
            host->attach_front_steering(fds_of(*members)));
      },
      [self, next](job_result<maps> made) {
        if (!made.ok())
          return next(iis::failure{made.error.code,
                                   "steering the bindings' connections: " + made.error.message});
        self->state.steering = std::move(**made.value);
        next(std::nullopt);
      });
}

/// A stop or kill came while a new generation started: the change fails.
void stopped_during_change(caf::typed_response_promise<msg::front_reloaded> rp,
                           finished_fn finished) {
  rp.deliver(to_error({iis::errc::process_failed, "the front stopped during the change"}));
  finished();
}

/// Generation `next` starts; once its workers run it takes the new connections.
void start_next(front_actor_ptr self, std::uint32_t next, msg::front_change change,
                caf::typed_response_promise<msg::front_reloaded> rp, finished_fn finished) {
  spawn_generation(self, next, nullptr, [self, rp, finished, next, change](auto spawned) mutable {
    if (!spawned.ok()) {
      rp.deliver(to_error(spawned.error));
      return finished();
    }
    auto& st = self->state;
    const auto master = spawned.value->master;
    if (st.expected_exit) {  // stopped or killed while it spawned: it must not outlive that
      watch_process(self, *st.ctx.launcher, master);
      kill_all(*st.ctx.launcher, {master});
      return stopped_during_change(rp, finished);
    }
    st.starting = other_generation{master, next, std::move(*spawned.value->members), {}, false};
    watch_process(self, *st.ctx.launcher, master);
    auto reader = spawned.value->reader;
    wait_workers(self, master, reload_limit,
                 [self, rp, finished, master, reader, change](auto error) mutable {
                   if (!(self->state.starting.master == master))  // a stop or kill took it
                     return stopped_during_change(rp, finished);
                   if (error) return abandon_next(self, *error, rp, finished);
                   promote_next(self, change, reader, rp, finished);
                 });
  });
}

/// A new generation takes the new connections once its workers run; the
/// change is answered then, and the current one drains.
void swap_generation(front_actor_ptr self, msg::front_change change,
                     caf::typed_response_promise<msg::front_reloaded> rp, finished_fn finished) {
  const auto next = self->state.generation + 1;
  write_conf(self, next, [self, rp, finished, next, change](auto error) mutable {
    if (error) {
      rp.deliver(to_error(*error));
      return finished();
    }
    // Made before the new member joins: until it runs, every connection goes to the current one.
    with_steering(self, [self, rp, finished, next, change](auto error) mutable {
      if (error) {
        rp.deliver(to_error(*error));
        return finished();
      }
      start_next(self, next, change, rp, finished);
    });
  });
}

void reload(front_actor_ptr self, msg::front_change change,
            caf::typed_response_promise<msg::front_reloaded> rp, finished_fn finished) {
  auto& st = self->state;
  if (!st.master.pid) {
    rp.deliver(msg::front_reloaded{});
    finished();
  } else if (st.members.empty()) {
    reload_in_place(self, rp, finished);
  } else {
    swap_generation(self, change, rp, finished);
  }
}

void forget_all(front_actor_ptr self) {
  auto& st = self->state;
  st.master = iis::process_ref{};
  st.members.clear();
  st.steering.clear();
  st.starting = other_generation{};
  st.draining.clear();
  st.workers.clear();
}

void report_died(front_actor_ptr self, iis::exit_status status) {
  auto& st = self->state;
  st.expected_exit = true;
  if (auto owner = caf::actor_cast<caf::actor>(st.ctx.owner))
    self->send(owner, msg::front_died{status});
}

/// Tells the task actor, for the pool whose files the front serves, that
/// one of its processes ended and what replaced it.
void report_served_exit(front_actor_ptr self, std::size_t pool, const iis::process_ref& ref,
                        bool master, std::string reason, iis::process_ref replacement) {
  if (auto owner = caf::actor_cast<caf::actor>(self->state.ctx.owner))
    self->send(owner, msg::served_exit{pool, ref, master, std::move(reason), replacement});
}

/// A front that serves a pool's files lost its master: as a pool's nginx
/// would be, it is replaced, on the same members (what queued in their
/// backlogs is served then), once its orphaned workers are gone.
void repair_master(front_actor_ptr self, iis::process_ref old, iis::exit_status status,
                   std::size_t pool, finished_fn finished) {
  auto& st = self->state;
  auto give_up = [self, status, finished](const iis::failure& error) {
    auto& st = self->state;
    st.repairing = false;
    if (st.master.pid) kill_all(*st.ctx.launcher, {st.master});
    emit(self, st.ctx, "the front nginx could not be restarted: " + error.message);
    report_died(self, status);
    finished();
  };
  const auto orphans = kill_all(*st.ctx.launcher, retire_workers(self));
  wait_gone(self, st.polls, *st.ctx.launcher, orphans, self->clock().now() + kill_grace,
            [self, old, status, pool, finished, give_up](auto) {
              const auto next = self->state.generation + 1;
              write_conf(self, next, [=](auto error) {
                if (error) return give_up(*error);
                spawn_generation(
                    self, next, nullptr,
                    [=](auto spawned) {
                      if (!spawned.ok()) return give_up(spawned.error);
                      auto& st = self->state;
                      st.master = spawned.value->master;
                      watch_process(self, *st.ctx.launcher, st.master);
                      if (st.expected_exit) {  // stopped meanwhile
                        kill_all(*st.ctx.launcher, {st.master});
                        st.repairing = false;
                        return finished();
                      }
                      st.generation = next;
                      auto reader = spawned.value->reader;
                      wait_workers(self, st.master, reload_limit, [=](auto error) {
                        if (error) return give_up(*error);
                        adopt(self, self->clock().now() + adopt_limit, [=](auto) {
                          reader->reset();
                          self->state.repairing = false;
                          publish(self);
                          report_served_exit(self, pool, old, true, iis::describe(status),
                                             self->state.master);
                          finished();
                        });
                      });
                    },
                    copy_members(self));
              });
            });
}

void on_exit(front_actor_ptr self, const iis::process_ref& ref, iis::exit_status status) {
  auto& st = self->state;
  if (st.master == ref) {
    st.master = iis::process_ref{};
    if (st.expected_exit || !st.started || st.repairing) return;  // a repair's start fails
    const auto served = iis::front_served_pool(st.routes);
    if (!served || st.members.empty()) return report_died(self, status);
    st.repairing = true;
    run_exclusive(self, [self, ref, status, pool = *served](finished_fn finished) {
      repair_master(self, ref, status, pool, finished);
    });
    return;
  }
  auto it = st.workers.find(ref.pid);
  if (it == st.workers.end() || !(it->second.ref == ref)) return;
  const bool retiring = it->second.retiring;
  st.workers.erase(it);
  if (retiring || st.expected_exit || !st.master.pid) return;
  run_exclusive(self, [self, ref](finished_fn finished) {
    if (!self->state.master.pid) {
      finished();
      return;
    }
    adopt(self, self->clock().now() + adopt_limit,
          [self, ref, finished](std::vector<iis::process_ref> adopted) {
            std::string reason = self->state.ctx.host->worker_exit_reason(front_log(self), ref.pid);
            if (reason.empty()) reason = "status unknown";
            if (const auto served = iis::front_served_pool(self->state.routes)) {
              report_served_exit(self, *served, ref, false, reason,
                                 adopted.empty() ? iis::process_ref{} : adopted[0]);
              return finished();
            }
            std::string message =
                "front worker " + std::to_string(ref.pid) + " exited (" + reason + ")";
            if (!adopted.empty()) message += "; restarted as " + std::to_string(adopted[0].pid);
            emit(self, self->state.ctx, message);
            finished();
          });
  });
}

/// A plugin restart: the generations that run become ours again. The
/// current one's sockets are taken back from its master (an earlier
/// release's are its own: it reloads in place); older ones drain again,
/// once new connections are steered to the current one (the previous
/// plugin may have gone mid-change).
void recover(front_actor_ptr self, std::vector<iis::front_generation> recovered) {
  auto& st = self->state;
  const auto current = recovered.back();
  recovered.pop_back();
  st.master = current.master;
  st.generation = current.number;
  st.started = true;
  watch_process(self, *st.ctx.launcher, st.master);
  for (const auto& worker : st.ctx.launcher->children(st.master)) track_worker(self, worker);
  for (const auto& old : recovered) {
    auto workers = st.ctx.launcher->children(old.master);
    for (const auto& worker : workers) track_worker(self, worker, true);
    st.draining.push_back(other_generation{old.master, old.number, {}, std::move(workers), false});
    watch_process(self, *st.ctx.launcher, old.master);
  }
  auto drain_all = [self] {
    for (const auto& old : self->state.draining) drain(self, old.master);
  };
  if (current.number == 0) return drain_all();
  run_exclusive(self, [self, drain_all](finished_fn finished) {
    auto& st = self->state;
    off_thread<std::shared_ptr<std::vector<unique_fd>>>(
        self, st.ctx.workers,
        [plan = st.ctx.plan, host = st.ctx.host, master = st.master] {
          return std::make_shared<std::vector<unique_fd>>(host->take_front_members(*plan, master));
        },
        [self, finished, drain_all](job_result<std::shared_ptr<std::vector<unique_fd>>> taken) {
          auto& st = self->state;
          if (taken.ok()) st.members = std::move(**taken.value);
          if (st.draining.empty()) return finished();
          with_steering(self, [self, finished, drain_all](auto error) {
            if (error) emit(self, self->state.ctx, "the front's " + error->message);
            drain_all();
            finished();
          });
        });
  });
}

}  // namespace

caf::behavior front_actor(front_actor_ptr self, site_context ctx,
                          std::vector<iis::front_generation> recovered) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.ops.after_each([self] { publish(self); });
  st.routes.resize(st.ctx.plan->pools.size());
  for (std::size_t p = 0; p < st.routes.size(); ++p) st.routes[p].pool = p;
  if (!recovered.empty()) recover(self, std::move(recovered));
  publish(self);
  return {
      [self](msg::front_start& m) -> caf::result<msg::front_view> {
        auto rp = self->make_response_promise<msg::front_view>();
        for (auto& routes : m.routes) keep_routes(self->state.routes, std::move(routes));
        self->state.expected_exit = false;
        run_exclusive(self,
                      [self, rp](finished_fn finished) mutable { start(self, rp, finished); });
        return rp;
      },
      [self](msg::front_reload& m) -> caf::result<msg::front_reloaded> {
        auto rp = self->make_response_promise<msg::front_reloaded>();
        keep_routes(self->state.routes, std::move(m.routes));
        run_exclusive(self, [self, rp, change = m.change](finished_fn finished) mutable {
          reload(self, change, rp, finished);
        });
        return rp;
      },
      [self](msg::front_routes& m) { keep_routes(self->state.routes, std::move(m.routes)); },
      [self](msg::front_stop& m) -> caf::result<msg::front_left> {
        auto rp = self->make_response_promise<msg::front_left>();
        auto& st = self->state;
        st.expected_exit = true;
        if (st.master.pid) st.ctx.launcher->signal(st.master, SIGQUIT);
        if (st.starting.master.pid) st.ctx.launcher->signal(st.starting.master, SIGQUIT);
        for (const auto& old : st.draining) st.ctx.launcher->signal(old.master, SIGQUIT);
        wait_gone(self, st.polls, *st.ctx.launcher, front_processes(self),
                  self->clock().now() + m.timeout, [self, rp](auto left) mutable {
                    // What did not drain stays known: the front_kill that
                    // follows must find it.
                    if (left.empty()) forget_all(self);
                    publish(self);
                    rp.deliver(msg::front_left{std::move(left)});
                  });
        return rp;
      },
      [self](msg::front_kill) -> caf::result<msg::front_left> {
        auto rp = self->make_response_promise<msg::front_left>();
        auto& st = self->state;
        st.expected_exit = true;
        const auto killed = kill_all(*st.ctx.launcher, front_processes(self));
        wait_gone(self, st.polls, *st.ctx.launcher, killed, self->clock().now() + kill_grace,
                  [self, rp](auto left) mutable {
                    forget_all(self);
                    publish(self);
                    rp.deliver(msg::front_left{std::move(left)});
                  });
        return rp;
      },
      [self](msg::process_exit& exit) {
        on_exit(self, exit.process, exit.status);
        publish(self);
      },
      [self](atom::poll, std::uint64_t id) { self->state.polls.tick(self, id); },
  };
}

}  // namespace nomad_iis
