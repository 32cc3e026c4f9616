#include "actors/site_context.hpp"

#include <signal.h>

#include <algorithm>

#include <caf/all.hpp>

#include "messages/messages.hpp"
#include "messages/site.hpp"

namespace nomad_iis {

std::uint64_t watch_process(caf::event_based_actor* self, iis::launcher& launcher,
                            const iis::process_ref& process) {
  auto addr = self->address();
  return launcher.watch_exit(process, [addr, process](iis::exit_status status) {
    if (auto owner = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(owner, msg::process_exit{process, status});
  });
}

std::vector<iis::process_ref> kill_all(iis::launcher& launcher,
                                       const std::vector<iis::process_ref>& processes) {
  std::vector<iis::process_ref> out;
  auto add = [&out](const iis::process_ref& p) {
    if (std::find(out.begin(), out.end(), p) != out.end()) return false;
    out.push_back(p);
    return true;
  };
  for (const auto& process : processes) {
    launcher.signal(process, SIGSTOP);
    for (const auto& child : launcher.children(process)) {
      if (add(child)) launcher.signal(child, SIGKILL);
    }
    add(process);
    launcher.signal(process, SIGKILL);
  }
  return out;
}

void wait_gone(caf::event_based_actor* self, poller& polls, iis::launcher& launcher,
               std::vector<iis::process_ref> processes, poller::time_point deadline,
               std::function<void(std::vector<iis::process_ref>)> next) {
  auto left = std::make_shared<std::vector<iis::process_ref>>(std::move(processes));
  polls.start(
      self,
      [left, &launcher] {
        left->erase(std::remove_if(left->begin(), left->end(),
                                   [&](const iis::process_ref& p) { return !launcher.alive(p); }),
                    left->end());
        return left->empty();
      },
      deadline, gone_interval, [left, next = std::move(next)](bool) { next(*left); });
}

void open_outputs(caf::event_based_actor* self, poller& polls, const site_context& ctx,
                  poller::time_point deadline, bool fall_back_to_null,
                  std::function<bool()> give_up,
                  std::function<void(std::optional<iis::failure>, outputs_ptr)> next) {
  auto fds = std::make_shared<iis::output_fds>();
  auto error = std::make_shared<std::optional<iis::failure>>();
  polls.start(
      self,
      [plan = ctx.plan, host = ctx.host, fds, error, fall_back_to_null, give_up] {
        try {
          host->try_open_outputs(*plan, *fds);
        } catch (const std::exception& e) {
          *error = iis::failure_of(e, iis::errc::io_failure);
        }
        return fds->complete() || error->has_value() || (fall_back_to_null && give_up());
      },
      deadline, outputs_interval,
      [plan = ctx.plan, fds, error, fall_back_to_null, next = std::move(next)](bool) {
        if (!*error && fds->complete()) {
          next(std::nullopt, fds);
        } else if (fall_back_to_null) {
          next(std::nullopt, std::make_shared<iis::output_fds>());
        } else {
          next(error->value_or(iis::failure{
                   iis::errc::io_failure, "nobody reads the task's log FIFO " + plan->stdout_path}),
               nullptr);
        }
      });
}

void keep_routes(std::vector<iis::pool_routes>& routes, iis::pool_routes changed) {
  if (changed.pool < routes.size()) routes[changed.pool] = std::move(changed);
}

void emit(caf::event_based_actor* self, const site_context& ctx, const std::string& message,
          std::map<std::string, std::string> annotations) {
  annotations.emplace("site", ctx.plan->site_name);
  msg::task_event event;
  event.message = message;
  event.annotations = std::move(annotations);
  if (auto owner = caf::actor_cast<caf::actor>(ctx.owner)) self->send(owner, std::move(event));
}

void wait_ready(caf::event_based_actor* self, poller& polls, const site_context& ctx,
                std::vector<ready_target> targets,
                std::function<void(std::optional<iis::failure>)> next) {
  auto pending = std::make_shared<std::vector<ready_target>>(std::move(targets));
  auto ready = std::make_shared<std::vector<bool>>(pending->size(), false);
  auto error = std::make_shared<std::optional<iis::failure>>();
  auto latest = self->clock().now();
  for (const auto& target : *pending) latest = std::max(latest, target.deadline);
  auto exited = [host = ctx.host](const ready_target& target) {
    const std::string why = target.owner_log.empty() ? "" : host->last_emergency(target.owner_log);
    return target.what + ": the process exited during start" +
           (why.empty() ? std::string() : ": " + why);
  };
  polls.start(
      self,
      [self, ctx, pending, ready, error, exited] {
        auto& launcher = *ctx.launcher;
        const auto now = self->clock().now();
        bool all = true;
        for (std::size_t i = 0; i < pending->size(); ++i) {
          const auto& target = (*pending)[i];
          const bool owned = target.owner.pid != 0;
          if ((*ready)[i]) {
            // Ready is not done while others still start: its process may die meanwhile.
            if (owned && !launcher.alive(target.owner)) {
              *error = iis::failure{iis::errc::process_failed, exited(target)};
              return true;
            }
            continue;
          }
          const bool accepts = target.nginx_workers ? !launcher.children(target.owner).empty()
                               : target.socket.empty()
                                   ? launcher.accepts_tcp(target.ip, target.port)
                                   : launcher.accepts_unix(ctx.plan->data_dir, target.socket);
          if (accepts) {
            (*ready)[i] = true;
            continue;
          }
          if (owned && !launcher.alive(target.owner)) {
            *error = iis::failure{iis::errc::process_failed, exited(target)};
            return true;
          }
          if (now >= target.deadline) {
            *error = iis::failure{
                iis::errc::process_failed,
                target.what + " did not accept connections within " + target.limit_text};
            return true;
          }
          all = false;
        }
        return all;
      },
      latest + std::chrono::seconds(1), gone_interval,
      [next = std::move(next), pending, ready, error](bool done) {
        if (!done && !*error) {
          for (std::size_t i = 0; i < pending->size(); ++i) {
            if ((*ready)[i]) continue;
            *error = iis::failure{iis::errc::process_failed,
                                  (*pending)[i].what + " did not accept connections in time"};
            break;
          }
        }
        next(*error);
      });
}

void wait_retired(caf::event_based_actor* self, poller& polls, iis::launcher& launcher,
                  std::vector<iis::process_ref> workers, poller::time_point deadline,
                  std::function<void()> next) {
  // Between forking new workers and telling the old ones to quit, nginx
  // still lets the old generation accept; a reload is only done after that.
  polls.start(
      self,
      [&launcher, workers = std::move(workers)] {
        return std::all_of(workers.begin(), workers.end(), [&](const iis::process_ref& worker) {
          return !launcher.alive(worker) || launcher.shutting_down(worker);
        });
      },
      deadline, retire_interval, [next = std::move(next)](bool) { next(); });
}

}  // namespace nomad_iis
