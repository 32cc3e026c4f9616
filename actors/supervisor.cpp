#include "actors/supervisor.hpp"

#include <type_traits>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/event_hub.hpp"
#include "actors/fingerprinter.hpp"
#include "actors/task_actor.hpp"
#include "actors/timeouts.hpp"
#include "actors/website_actor.hpp"
#include "common/logging.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

using supervisor_ptr = caf::stateful_actor<supervisor_state>*;

const std::string not_found_text = "task not found for given id";

/// A task actor that quit while a request to it was queued means the task
/// is gone: callers get task_not_found, as for an id never seen.
caf::error task_error(caf::error error) {
  if (error == caf::sec::request_receiver_down)
    return caf::make_error(ec::task_not_found, not_found_text);
  return error;
}

const msg::task_summary* newest_task(supervisor_ptr self, const std::string& alloc_id,
                                     const std::string& task_name);

/// Points the status board's (alloc_id, task_name) at the newest such task.
void update_board(supervisor_ptr self, const std::string& alloc_id, const std::string& task_name) {
  auto& st = self->state;
  if (!st.board) return;
  std::shared_ptr<status_cell> cell;
  if (const auto* best = newest_task(self, alloc_id, task_name))
    cell = st.status_cells[best->task_id];
  st.board->assign(alloc_id, task_name, std::move(cell));
}

/// Forgets a task whose actor is gone or going (destroyed, or down).
void forget_task(supervisor_ptr self, const caf::actor_addr& addr) {
  auto it = self->state.task_ids.find(addr);
  if (it == self->state.task_ids.end()) return;
  const auto id = it->second;
  self->state.task_ids.erase(it);
  auto task = self->state.tasks.find(id);
  if (task == self->state.tasks.end() || task->second.address() != addr) return;
  self->state.tasks.erase(task);
  self->state.spawn_seq.erase(id);
  self->state.status_cells.erase(id);
  auto summary = self->state.summaries.find(id);
  if (summary == self->state.summaries.end()) return;
  const auto gone = std::move(summary->second);
  self->state.summaries.erase(summary);
  update_board(self, gone.alloc_id, gone.task_name);
}

/// Relays `m` to the task's actor and its reply (of type Reply, or none for
/// void) back, or answers task_not_found. `on_success` runs before the reply
/// is delivered, so the caller's next request already sees its effect.
template <class Reply, class Message, class OnSuccess = void (*)(supervisor_ptr, const caf::actor&)>
caf::result<caf::message> forward(
    supervisor_ptr self, const std::string& task_id, Message& m,
    OnSuccess on_success = [](supervisor_ptr, const caf::actor&) {}) {
  auto it = self->state.tasks.find(task_id);
  if (it == self->state.tasks.end()) return caf::make_error(ec::task_not_found, not_found_text);
  auto rp = self->make_response_promise();
  auto task = it->second;
  auto on_error = [rp](caf::error& error) mutable { rp.deliver(task_error(std::move(error))); };
  if constexpr (std::is_void_v<Reply>) {
    self->request(task, caf::infinite, std::move(m))
        .then(
            [self, rp, task, on_success]() mutable {
              on_success(self, task);
              rp.deliver(caf::unit);
            },
            on_error);
  } else {
    self->request(task, caf::infinite, std::move(m))
        .then(
            [self, rp, task, on_success](Reply& reply) mutable {
              on_success(self, task);
              rp.deliver(std::move(reply));
            },
            on_error);
  }
  return rp;
}

/// The newest task of (alloc_id, task_name): an alloc restarts a task under
/// a new id, and the old one may linger until it is destroyed.
const msg::task_summary* newest_task(supervisor_ptr self, const std::string& alloc_id,
                                     const std::string& task_name) {
  const msg::task_summary* best = nullptr;
  std::uint64_t best_seq = 0;
  for (const auto& [id, summary] : self->state.summaries) {
    if (summary.alloc_id != alloc_id || summary.task_name != task_name) continue;
    auto seq = self->state.spawn_seq[id];
    if (!best || seq > best_seq) {
      best = &summary;
      best_seq = seq;
    }
  }
  return best;
}

caf::error no_such_task(const std::string& alloc_id, const std::string& task_name) {
  return caf::make_error(ec::task_not_found, "no task " + task_name + " in allocation " + alloc_id);
}

caf::actor spawn_task(supervisor_ptr self, const std::string& task_id) {
  auto cell = std::make_shared<status_cell>();
  self->state.status_cells[task_id] = cell;
  auto task = self->spawn<caf::monitored>(task_actor, self->state.services, self->state.hub,
                                          self->state.driver, self->address(), std::move(cell));
  self->state.tasks[task_id] = task;
  self->state.spawn_seq[task_id] = ++self->state.next_seq;
  self->state.task_ids[task.address()] = task_id;
  return task;
}

}  // namespace

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self, site_services services,
                         caf::actor hub, caf::actor fingerprinter,
                         std::shared_ptr<status_board> board) {
  self->state.board = std::move(board);
  self->state.services = std::move(services);
  self->state.hub = std::move(hub);
  self->state.fingerprinter = std::move(fingerprinter);
  self->set_down_handler([self](const caf::down_msg& down) {
    forget_task(self, caf::actor_cast<caf::actor_addr>(down.source));
  });
  return {
      [self](msg::set_driver_config& cfg) {
        self->state.driver = cfg.driver;
        self->send(self->state.fingerprinter, cfg);
        if (self->state.services.websites) self->send(self->state.services.websites, cfg);
      },
      [self](msg::start_task& m) -> caf::result<caf::message> {
        if (m.task.task_id.empty())
          return caf::make_error(ec::invalid_argument, std::string("the task has no id"));
        if (self->state.tasks.count(m.task.task_id) != 0)
          return caf::make_error(ec::invalid_argument,
                                 "task " + m.task.task_id + " already exists");
        auto task = spawn_task(self, m.task.task_id);
        return self->delegate(task, std::move(m));
      },
      [self](msg::recover_task& m) -> caf::result<caf::message> {
        if (m.task.task_id.empty())
          return caf::make_error(ec::invalid_argument, std::string("the task handle has no id"));
        if (self->state.tasks.count(m.task.task_id) != 0)
          return caf::make_message();  // already tracked
        auto task = spawn_task(self, m.task.task_id);
        return self->delegate(task, std::move(m));
      },
      [self](msg::wait_task& m) { return forward<msg::exit_result>(self, m.task_id, m); },
      [self](msg::stop_task& m) { return forward<void>(self, m.task_id, m); },
      [self](msg::destroy_task& m) {
        // Forgotten before the reply, not when its down message comes: the
        // caller may ask about the task again before that.
        return forward<void>(self, m.task_id, m, [](supervisor_ptr self, const caf::actor& task) {
          forget_task(self, task.address());
        });
      },
      [self](msg::inspect_task& m) { return forward<msg::task_status>(self, m.task_id, m); },
      [self](msg::signal_task& m) { return forward<void>(self, m.task_id, m); },
      [self](msg::sample_stats& m) { return forward<msg::task_stats>(self, m.task_id, m); },
      [self](msg::exec_open& m) { return forward<msg::exec_opened>(self, m.task_id, m); },
      [self](msg::task_summary& summary) {
        if (self->state.tasks.count(summary.task_id) == 0) return;
        const auto alloc_id = summary.alloc_id, task_name = summary.task_name;
        self->state.summaries[summary.task_id] = std::move(summary);
        update_board(self, alloc_id, task_name);
      },
      [self](msg::find_task& m) -> caf::result<msg::found_task> {
        auto* best = newest_task(self, m.alloc_id, m.task_name);
        if (!best) return no_such_task(m.alloc_id, m.task_name);
        return msg::found_task{self->state.tasks.at(best->task_id), *best};
      },
      [self](msg::find_site_status& m) -> caf::result<caf::message> {
        auto* best = newest_task(self, m.alloc_id, m.task_name);
        if (!best) return no_such_task(m.alloc_id, m.task_name);
        return self->delegate(self->state.tasks.at(best->task_id), msg::get_site_status{});
      },
      [self](msg::list_tasks&) {
        msg::task_list list;
        for (const auto& [id, summary] : self->state.summaries) list.tasks.push_back(summary);
        return list;
      },
      [self](atom::hand_over) -> caf::result<void> {
        if (self->state.tasks.empty()) return caf::unit;
        auto rp = self->make_response_promise();
        auto remaining = std::make_shared<std::size_t>(self->state.tasks.size());
        auto one_done = [rp, remaining]() mutable {
          if (--*remaining == 0) rp.deliver(caf::unit);
        };
        for (const auto& [id, task] : self->state.tasks) {
          self->request(task, timeouts::hand_over, atom::hand_over_v)
              .then([one_done]() mutable { one_done(); },
                    [one_done, id = id](caf::error& error) mutable {
                      logging::log(*logging::get("task"), spdlog::level::warn,
                                   "the site did not start its idle pools before the exit",
                                   {{"task_id", id}, {"error", caf::to_string(error)}});
                      one_done();
                    });
        }
        return rp;
      },
      [self](msg::collect_metrics&) -> caf::result<msg::metrics_snapshot> {
        // Every task answers from its state after one count of its request
        // log; a task that cannot (gone, no site yet) is left out.
        auto rp = self->make_response_promise<msg::metrics_snapshot>();
        auto out = std::make_shared<msg::metrics_snapshot>();
        auto remaining = std::make_shared<std::size_t>(self->state.tasks.size());
        if (*remaining == 0) return msg::metrics_snapshot{};
        auto one_done = [rp, out, remaining]() mutable {
          if (--*remaining == 0) rp.deliver(std::move(*out));
        };
        for (const auto& [id, task] : self->state.tasks) {
          self->request(task, timeouts::metrics_of_task, msg::get_task_metrics{})
              .then(
                  [out, one_done](msg::task_metrics& m) mutable {
                    out->tasks.push_back(std::move(m));
                    one_done();
                  },
                  [one_done](caf::error&) mutable { one_done(); });
        }
        return rp;
      },
      [self](msg::get_debug_info&) -> caf::result<msg::debug_info> {
        msg::debug_info info;
        std::vector<std::string> known;
        for (const auto& [id, summary] : self->state.summaries) {
          info.tasks.push_back(summary);
          known.push_back(summary.site_name);
        }
        // Reads the data dir: a blocking worker does it.
        auto rp = self->make_response_promise<msg::debug_info>();
        off_thread<std::vector<iis::dangling_item>>(
            self, self->state.services.workers,
            [backend = self->state.services.backend,
             data_dir = self->state.driver.effective_data_dir(),
             known] { return backend->list_dangling(data_dir, known); },
            [rp, info](job_result<std::vector<iis::dangling_item>> found) mutable {
              if (found.ok()) {
                for (auto& d : *found.value)
                  info.dangling.push_back({d.site_name, d.data_dir, d.pids});
              }
              rp.deliver(std::move(info));
            });
        return rp;
      },
  };
}

driver_actors spawn_driver(caf::actor_system& sys, std::shared_ptr<iis::backend> backend,
                           bool detached_workers, inspect::inspector inspector) {
  driver_actors actors;
  actors.workers = spawn_blocking_pool(sys, blocking_workers, detached_workers);
  actors.file_workers = spawn_blocking_pool(sys, file_workers, detached_workers);
  actors.tool_workers = spawn_blocking_pool(sys, tool_workers, detached_workers);
  actors.hub = sys.spawn(event_hub);
  actors.fingerprinter = sys.spawn(fingerprinter, backend, actors.workers);
  site_services services{
      backend,
      backend->processes(),
      backend->host(),
      actors.workers,
      actors.file_workers,
      actors.tool_workers,
      std::move(inspector),
      sys.spawn(website_actor, backend->processes(), backend->host(), actors.workers)};
  actors.websites = services.websites;
  actors.statuses = std::make_shared<status_board>();
  actors.supervisor =
      sys.spawn(supervisor, std::move(services), actors.hub, actors.fingerprinter, actors.statuses);
  return actors;
}

void configure_actor_system(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::nomad_iis>();
  cfg.add_error_category(caf::atom("nomad_iis"),
                         [](std::uint8_t code, caf::atom_value, const caf::message& ctx) {
                           auto text = to_string(static_cast<ec>(code));
                           if (ctx.size() == 1 && ctx.match_element<std::string>(0))
                             text += ": " + ctx.get_as<std::string>(0);
                           return text;
                         });
  // files and inspect: (code, message), shown as the message.
  for (auto category : {caf::atom("files"), caf::atom("inspect")})
    cfg.add_error_category(category, [](std::uint8_t, caf::atom_value, const caf::message& ctx) {
      return ctx.size() == 2 && ctx.match_element<std::string>(1) ? ctx.get_as<std::string>(1)
                                                                  : std::string("operation failed");
    });
}

}  // namespace nomad_iis
