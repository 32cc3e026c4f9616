#include "tests/iis/actor_site.hpp"

#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/driver_state.hpp"
#include "actors/supervisor.hpp"
#include "actors/task_actor.hpp"
#include "actors/task_site.hpp"
#include "iis/linux_backend.hpp"
#include "iis/proc_stats.hpp"
#include "messages/error.hpp"
#include "messages/site.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::iis::test {
namespace {

constexpr auto query_timeout = std::chrono::seconds(30);

task_context context_of(const site_plan& plan) {
  task_context task;
  const std::filesystem::path task_dir(plan.task_dir);
  task.task_id = plan.site_name;
  task.alloc_id = plan.site_name;
  task.task_name = task_dir.filename().string();
  task.alloc_dir = task_dir.parent_path().string();
  task.stdout_path = plan.stdout_path;
  task.stderr_path = plan.stderr_path;
  return task;
}

caf::behavior event_forwarder(caf::event_based_actor*, std::shared_ptr<site_observer> observer) {
  return {
      [observer](msg::task_event& event) {
        if (observer) observer->on_event(site_event{event.message, event.annotations});
      },
  };
}

std::optional<failure> error_text(const caf::error& error) {
  return nomad_iis::failure_of(error);
}

}  // namespace

site_handle::site_handle(site_engine& engine, caf::actor task, task_context context, site_plan plan,
                         std::shared_ptr<site_observer> observer)
    : engine_(engine),
      task_(std::move(task)),
      context_(std::move(context)),
      plan_(std::move(plan)),
      observer_(std::move(observer)),
      owner_ended_(std::make_shared<bool>(false)),
      alive_(std::make_shared<std::atomic<bool>>(true)) {}

site_handle::~site_handle() {
  *alive_ = false;
  caf::anon_send_exit(task_, caf::exit_reason::user_shutdown);
}

completion site_handle::guarded(completion done) const {
  return [alive = alive_, done = std::move(done)](std::optional<failure> error) {
    if (*alive) done(std::move(error));
  };
}

void site_handle::ask_void(caf::message message, completion done) {
  engine_.system().spawn(
      [](caf::event_based_actor* self, caf::actor task, caf::message message, completion done) {
        self->request(task, caf::infinite, std::move(message))
            .then([done]() { done(std::nullopt); },
                  [done](caf::error& error) { done(error_text(error)); });
      },
      task_, std::move(message), guarded(std::move(done)));
}

void site_handle::watch_exit() {
  engine_.system().spawn(
      [](caf::event_based_actor* self, caf::actor task, std::shared_ptr<site_observer> observer,
         std::shared_ptr<bool> owner_ended) {
        self->request(task, caf::infinite, msg::wait_task{})
            .then(
                [observer, owner_ended](msg::exit_result& result) {
                  if (*owner_ended || !observer) return;
                  observer->on_exit(exit_info{result.exit_code, result.signal, result.err});
                },
                [](caf::error&) {});
      },
      task_, observer_, owner_ended_);
}

void site_handle::start(completion done) {
  engine_.system().spawn(
      [](caf::event_based_actor* self, caf::actor task, msg::start_planned start, completion done) {
        self->request(task, caf::infinite, std::move(start))
            .then([done](msg::started_task&) { done(std::nullopt); },
                  [done](caf::error& error) { done(error_text(error)); });
      },
      task_, msg::start_planned{context_, plan_},
      guarded([this, done](std::optional<failure> error) {
        if (!error) watch_exit();
        done(std::move(error));
      }));
}

void site_handle::stop(duration timeout, std::string signal, completion done) {
  *owner_ended_ = true;
  ask_void(caf::make_message(msg::stop_task{context_.task_id, timeout, std::move(signal)}),
           std::move(done));
}

void site_handle::start_pools(std::vector<std::string> pools, completion done) {
  ask_void(caf::make_message(msg::pool_command{msg::pool_op::start, std::move(pools)}),
           std::move(done));
}

void site_handle::stop_pools(std::vector<std::string> pools, completion done) {
  ask_void(caf::make_message(msg::pool_command{msg::pool_op::stop, std::move(pools)}),
           std::move(done));
}

void site_handle::recycle_pools(std::vector<std::string> pools, completion done) {
  ask_void(caf::make_message(msg::pool_command{msg::pool_op::recycle, std::move(pools)}),
           std::move(done));
}

void site_handle::destroy(completion done) {
  *owner_ended_ = true;
  ask_void(caf::make_message(msg::destroy_task{context_.task_id, true}), std::move(done));
}

void site_handle::hand_over(completion done) {
  ask_void(caf::make_message(atom::hand_over_v), std::move(done));
}

void site_handle::refresh_access() {
  // A file change with no pool to stop (the delete of a file made for it):
  // its end applies directory security.
  const std::string name = "refresh-access.tmp";
  { std::ofstream(plan_.task_dir + "/" + name) << "x"; }
  engine_.system().spawn(
      [](caf::event_based_actor* self, caf::actor task, std::string path) {
        self->request(task, caf::infinite, msg::delete_path{{path}})
            .then([]() {}, [](caf::error&) {});
      },
      task_, name);
}

site_snapshot site_handle::snapshot() const {
  caf::scoped_actor self{engine_.system()};
  site_snapshot out;
  self->request(task_, query_timeout, msg::get_site_snapshot{})
      .receive([&](site_snapshot& snapshot) { out = std::move(snapshot); }, [](caf::error&) {});
  return out;
}

usage_sample site_handle::sample_usage() const {
  const auto snap = snapshot();
  usage_sample sample;
  auto add = [&](const std::string& pool, const process_ref& ref) {
    if (ref.pid == 0) return;
    if (auto usage = read_usage(ref)) sample.by_pool[pool].push_back(*usage);
  };
  add("", snap.front);
  for (const auto& pool : snap.pools) {
    add(pool.name, pool.supervisor);
    for (const auto& worker : pool.workers) add(pool.name, worker);
  }
  return sample;
}

std::string site_handle::save_state() const {
  caf::scoped_actor self{engine_.system()};
  std::string out;
  self->request(task_, query_timeout, msg::get_driver_state{})
      .receive([&](std::string& state) { out = std::move(state); }, [](caf::error&) {});
  return out;
}

std::vector<std::string> site_handle::pools_serving(const std::string& task_path) const {
  return site::pools_serving(plan_, task_path);
}

site_engine::site_engine(const config::driver_config& driver)
    : driver_(driver), config_(std::make_unique<caf::actor_system_config>()) {
  configure_actor_system(*config_);
  config_->set("logger.verbosity", caf::atom("quiet"));
  config_->set("logger.console", caf::atom("none"));
  system_ = std::make_unique<caf::actor_system>(*config_);
  system_->await_actors_before_shutdown(false);
  backend_ = make_linux_backend();
  workers_ = spawn_blocking_pool(*system_, blocking_workers, true);
}

site_engine::~site_engine() {
  caf::anon_send_exit(workers_, caf::exit_reason::user_shutdown);
  workers_ = nullptr;
  // Every task ended with its handle (and took its front, pools and event
  // forwarder along): wait until they are gone, so none outlives the system.
  system_->await_all_actors_done();
}

caf::actor site_engine::spawn_task(const task_context&, std::shared_ptr<site_observer> observer) {
  auto hub = system_->spawn(event_forwarder, std::move(observer));
  // One pool of workers for the site's steps and its file changes.
  site_services services{
      backend_, backend_->processes(), backend_->host(), workers_, workers_, workers_, {}, {}};
  auto task = system_->spawn(task_actor, services, hub, driver_, caf::actor_addr{},
                             std::make_shared<status_cell>());
  // The forwarder ends with its task.
  task->attach_functor(
      [hub](const caf::error&) { caf::anon_send_exit(hub, caf::exit_reason::user_shutdown); });
  return task;
}

std::unique_ptr<site_handle> site_engine::create_site(site_plan plan,
                                                      std::shared_ptr<site_observer> observer) {
  auto context = context_of(plan);
  auto task = spawn_task(context, observer);
  return std::make_unique<site_handle>(*this, task, std::move(context), std::move(plan),
                                       std::move(observer));
}

std::unique_ptr<site_handle> site_engine::recover_site(const std::string& state,
                                                       std::shared_ptr<site_observer> observer) {
  const auto saved = decode_driver_state(state);  // throws on garbage
  auto task = spawn_task(saved.task, observer);
  caf::scoped_actor self{*system_};
  std::optional<std::string> error;
  self->request(task, query_timeout, msg::recover_task{saved.task, state})
      .receive([]() {}, [&](caf::error& e) { error = message_of(e); });
  if (error) throw std::runtime_error(*error);
  auto plan = iis::decode_state(saved.site).plan;
  auto handle =
      std::make_unique<site_handle>(*this, task, saved.task, std::move(plan), std::move(observer));
  handle->watch_exit();
  return handle;
}

std::vector<dangling_item> site_engine::list_dangling(const std::vector<std::string>& known) {
  return backend_->list_dangling(driver_.effective_data_dir(), known);
}

std::unique_ptr<site_engine> make_site_engine(const config::driver_config& driver) {
  return std::make_unique<site_engine>(driver);
}

}  // namespace nomad_iis::iis::test
