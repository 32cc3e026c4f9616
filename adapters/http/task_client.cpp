#include "adapters/http/task_client.hpp"

#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/timeouts.hpp"
#include "adapters/http/http_error.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::http {
namespace {

/// An actor error as the HTTP error the error table names (messages/error.hpp).
http_error to_http(const caf::error& err) {
  const auto& route = route_of(err);
  return http_error(route.http_status, std::string(route.http_error), http_text(err));
}

/// Sends `m` to `dest` and waits for a reply of type T.
template <class T, class Timeout, class Message>
T ask(caf::actor_system& sys, const caf::actor& dest, Timeout timeout, Message&& m) {
  caf::scoped_actor self{sys};
  std::optional<T> out;
  caf::error failure;
  self->request(dest, timeout, std::forward<Message>(m))
      .receive([&](T& reply) { out = std::move(reply); },
               [&](caf::error& err) { failure = std::move(err); });
  if (!out) throw to_http(failure);
  return std::move(*out);
}

template <class Timeout, class Message>
void ask_void(caf::actor_system& sys, const caf::actor& dest, Timeout timeout, Message&& m) {
  caf::scoped_actor self{sys};
  caf::error failure;
  self->request(dest, timeout, std::forward<Message>(m))
      .receive([] {}, [&](caf::error& err) { failure = std::move(err); });
  if (failure) throw to_http(failure);
}

}  // namespace

task_client::task_client(caf::actor_system& sys, caf::actor supervisor)
    : sys_(sys), supervisor_(std::move(supervisor)) {}

std::vector<msg::task_summary> task_client::list() {
  return ask<msg::task_list>(sys_, supervisor_, timeouts::query, msg::list_tasks{}).tasks;
}

msg::debug_info task_client::debug() {
  return ask<msg::debug_info>(sys_, supervisor_, timeouts::query, msg::get_debug_info{});
}

task_ref task_client::find(const std::string& alloc_id, const std::string& task_name) {
  auto found =
      ask<msg::found_task>(sys_, supervisor_, timeouts::query, msg::find_task{alloc_id, task_name});
  return {std::move(found.task), std::move(found.summary)};
}

msg::site_status task_client::find_status(const std::string& alloc_id,
                                          const std::string& task_name) {
  return ask<msg::site_status>(sys_, supervisor_, timeouts::query,
                               msg::find_site_status{alloc_id, task_name});
}

void task_client::find_status_async(const std::string& alloc_id, const std::string& task_name,
                                    std::function<void(std::optional<msg::site_status>)> done) {
  // A short-lived actor per read: it lives while its request is pending.
  sys_.spawn([supervisor = supervisor_, ask = msg::find_site_status{alloc_id, task_name},
              done = std::move(done)](caf::event_based_actor* self) mutable {
    self->request(supervisor, timeouts::query, std::move(ask))
        .then([done](msg::site_status& reply) { done(std::move(reply)); },
              [done](caf::error&) { done(std::nullopt); });
  });
}

msg::site_status task_client::status(const task_ref& task) {
  return ask<msg::site_status>(sys_, task.actor, timeouts::query, msg::get_site_status{});
}

void task_client::pools(const task_ref& task, msg::pool_op op, std::vector<std::string> pools) {
  ask_void(sys_, task.actor, timeouts::lifecycle, msg::pool_command{op, std::move(pools)});
}

msg::change_ticket task_client::begin_change(const task_ref& task, const std::string& path,
                                             bool stop_pools) {
  return ask<msg::change_ticket>(sys_, task.actor, timeouts::lifecycle,
                                 msg::begin_change{path, stop_pools});
}

void task_client::end_change(const task_ref& task, std::uint64_t id) {
  ask_void(sys_, task.actor, timeouts::lifecycle, msg::end_change{id});
}

}  // namespace nomad_iis::http
