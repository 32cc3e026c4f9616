#include "adapters/grpc/driver_service.hpp"

#include <algorithm>
#include <chrono>

#include <caf/all.hpp>

#include "actors/timeouts.hpp"
#include "adapters/grpc/conversions.hpp"
#include "adapters/grpc/exec_calls.hpp"
#include "adapters/grpc/schema_proto.hpp"
#include "adapters/grpc/stream_writer.hpp"
#include "adapters/grpc/unary_call.hpp"
#include "config/schema.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::grpc_adapter {
namespace {

constexpr std::size_t fingerprint_queue = 4;
constexpr std::size_t event_queue = 1024;
constexpr std::size_t stats_queue = 4;
constexpr auto default_stats_interval = std::chrono::seconds(1);
constexpr auto min_stats_interval = std::chrono::milliseconds(100);

caf::duration query_timeout() {
  return caf::duration{timeouts::query};
}
caf::duration lifecycle_timeout() {
  return caf::duration{timeouts::lifecycle};
}

std::chrono::milliseconds to_ms(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

/// A stream fed by a bridge actor subscribed to `source`.
template <class Response, class Message>
grpc::ServerWriteReactor<Response>* subscribe_stream(caf::actor_system& sys,
                                                     const caf::actor& source,
                                                     std::size_t max_queued) {
  return new stream_writer<Response>(
      max_queued, [&](std::shared_ptr<stream_channel<Response>> channel) {
        return sys.spawn([channel, source](caf::event_based_actor* self) -> caf::behavior {
          self->send(source, atom::subscribe_v, caf::actor_cast<caf::actor>(self));
          return {[channel](const Message& m) { channel->post(to_proto(m)); }};
        });
      });
}

}  // namespace

driver_service::driver_service(caf::actor_system& sys, driver_actors actors)
    : sys_(sys), actors_(std::move(actors)) {}

grpc::ServerUnaryReactor* driver_service::TaskConfigSchema(
    grpc::CallbackServerContext* ctx, const drivers::TaskConfigSchemaRequest*,
    drivers::TaskConfigSchemaResponse* response) {
  *response->mutable_spec() = to_proto(*config::task_config_schema());
  return finish_now(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* driver_service::Capabilities(grpc::CallbackServerContext* ctx,
                                                       const drivers::CapabilitiesRequest*,
                                                       drivers::CapabilitiesResponse* response) {
  auto* caps = response->mutable_capabilities();
  caps->set_send_signals(true);
  caps->set_exec(true);
  caps->set_fs_isolation(drivers::DriverCapabilities::NONE);
  caps->add_network_isolation_modes(drivers::NetworkIsolationSpec::HOST);
  caps->set_mount_configs(drivers::DriverCapabilities::NO_MOUNTS);
  return finish_now(ctx, grpc::Status::OK);
}

grpc::ServerWriteReactor<drivers::FingerprintResponse>* driver_service::Fingerprint(
    grpc::CallbackServerContext*, const drivers::FingerprintRequest*) {
  return subscribe_stream<drivers::FingerprintResponse, msg::fingerprint>(
      sys_, actors_.fingerprinter, fingerprint_queue);
}

grpc::ServerWriteReactor<drivers::DriverTaskEvent>* driver_service::TaskEvents(
    grpc::CallbackServerContext*, const drivers::TaskEventsRequest*) {
  return subscribe_stream<drivers::DriverTaskEvent, msg::task_event>(sys_, actors_.hub,
                                                                     event_queue);
}

grpc::ServerUnaryReactor* driver_service::StartTask(grpc::CallbackServerContext* ctx,
                                                    const drivers::StartTaskRequest* request,
                                                    drivers::StartTaskResponse* response) {
  if (!request->has_task() || request->task().id().empty())
    return finish_now(ctx,
                      {grpc::StatusCode::INVALID_ARGUMENT, "StartTask needs a task with an id"});
  msg::start_task m{to_context(request->task()), request->task().msgpack_driver_config()};
  return ask<msg::started_task>(sys_, actors_.supervisor, std::move(m), lifecycle_timeout(),
                                [request, response](msg::started_task& started) {
                                  auto* handle = response->mutable_handle();
                                  handle->set_version(1);
                                  *handle->mutable_config() = request->task();
                                  handle->set_state(drivers::RUNNING);
                                  handle->set_driver_state(started.driver_state);
                                  return grpc::Status::OK;
                                });
}

grpc::ServerUnaryReactor* driver_service::RecoverTask(grpc::CallbackServerContext* ctx,
                                                      const drivers::RecoverTaskRequest* request,
                                                      drivers::RecoverTaskResponse*) {
  if (!request->has_handle() || !request->handle().has_config())
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "RecoverTask needs a task handle"});
  auto task = to_context(request->handle().config());
  // Nomad leaves task_id empty; the handle's config carries the id.
  if (task.task_id.empty()) task.task_id = request->task_id();
  if (request->handle().driver_state().empty())
    return finish_now(ctx, {grpc::StatusCode::FAILED_PRECONDITION,
                            "the task handle has no driver_state to recover from"});
  msg::recover_task m{std::move(task), request->handle().driver_state()};
  return ask_void(sys_, actors_.supervisor, std::move(m), lifecycle_timeout(),
                  [] { return grpc::Status::OK; });
}

grpc::ServerUnaryReactor* driver_service::WaitTask(grpc::CallbackServerContext*,
                                                   const drivers::WaitTaskRequest* request,
                                                   drivers::WaitTaskResponse* response) {
  return ask<msg::exit_result>(sys_, actors_.supervisor, msg::wait_task{request->task_id()},
                               caf::infinite, [response](msg::exit_result& result) {
                                 fill(response->mutable_result(), result);
                                 response->set_err(result.err);
                                 return grpc::Status::OK;
                               });
}

grpc::ServerUnaryReactor* driver_service::StopTask(grpc::CallbackServerContext*,
                                                   const drivers::StopTaskRequest* request,
                                                   drivers::StopTaskResponse*) {
  msg::stop_task m{request->task_id(), to_ms(request->timeout()), request->signal()};
  return ask_void(sys_, actors_.supervisor, std::move(m), lifecycle_timeout(),
                  [] { return grpc::Status::OK; });
}

grpc::ServerUnaryReactor* driver_service::DestroyTask(grpc::CallbackServerContext*,
                                                      const drivers::DestroyTaskRequest* request,
                                                      drivers::DestroyTaskResponse*) {
  return ask_void(sys_, actors_.supervisor, msg::destroy_task{request->task_id(), request->force()},
                  lifecycle_timeout(), [] { return grpc::Status::OK; });
}

grpc::ServerUnaryReactor* driver_service::InspectTask(grpc::CallbackServerContext*,
                                                      const drivers::InspectTaskRequest* request,
                                                      drivers::InspectTaskResponse* response) {
  return ask<msg::task_status>(sys_, actors_.supervisor, msg::inspect_task{request->task_id()},
                               query_timeout(), [response](msg::task_status& status) {
                                 fill(response->mutable_task(), status);
                                 response->mutable_driver()->mutable_attributes()->insert(
                                     status.attributes.begin(), status.attributes.end());
                                 return grpc::Status::OK;
                               });
}

grpc::ServerWriteReactor<drivers::TaskStatsResponse>* driver_service::TaskStats(
    grpc::CallbackServerContext*, const drivers::TaskStatsRequest* request) {
  auto interval = std::chrono::milliseconds(default_stats_interval);
  if (request->has_collection_interval())
    interval = std::max(to_ms(request->collection_interval()),
                        std::chrono::milliseconds(min_stats_interval));
  using channel_ptr = std::shared_ptr<stream_channel<drivers::TaskStatsResponse>>;
  return new stream_writer<drivers::TaskStatsResponse>(stats_queue, [&](channel_ptr channel) {
    return sys_.spawn([channel, supervisor = actors_.supervisor, id = request->task_id(),
                       interval](caf::event_based_actor* self) -> caf::behavior {
      self->send(self, atom::tick_v, std::uint64_t{0});
      return {
          [=](atom::tick, std::uint64_t) {
            self->request(supervisor, query_timeout(), msg::sample_stats{id})
                .then(
                    [=](msg::task_stats& stats) {
                      drivers::TaskStatsResponse response;
                      fill(response.mutable_stats(), stats);
                      channel->post(std::move(response));
                      self->delayed_send(self, interval, atom::tick_v, std::uint64_t{0});
                    },
                    [=](caf::error& err) {
                      channel->finish(to_status(err));
                      self->quit();
                    });
          },
      };
    });
  });
}

grpc::ServerUnaryReactor* driver_service::SignalTask(grpc::CallbackServerContext*,
                                                     const drivers::SignalTaskRequest* request,
                                                     drivers::SignalTaskResponse*) {
  return ask_void(sys_, actors_.supervisor, msg::signal_task{request->task_id(), request->signal()},
                  lifecycle_timeout(), [] { return grpc::Status::OK; });
}

grpc::ServerUnaryReactor* driver_service::ExecTask(grpc::CallbackServerContext*,
                                                   const drivers::ExecTaskRequest* request,
                                                   drivers::ExecTaskResponse* response) {
  return exec_unary(sys_, actors_.supervisor, *request, response);
}

grpc::ServerBidiReactor<drivers::ExecTaskStreamingRequest, drivers::ExecTaskStreamingResponse>*
driver_service::ExecTaskStreaming(grpc::CallbackServerContext*) {
  return exec_streaming(sys_, actors_.supervisor);
}

grpc::ServerUnaryReactor* driver_service::Init(grpc::CallbackServerContext* ctx,
                                               const drivers::InitRequest*,
                                               drivers::InitResponse*) {
  return finish_now(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* driver_service::Shutdown(grpc::CallbackServerContext* ctx,
                                                   const drivers::ShutdownRequest*,
                                                   drivers::ShutdownResponse*) {
  // The agent is going away; tasks keep running and are recovered later.
  return finish_now(ctx, grpc::Status::OK);
}

}  // namespace nomad_iis::grpc_adapter
