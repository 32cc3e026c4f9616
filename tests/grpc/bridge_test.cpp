#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE grpc_tests
#include <boost/test/unit_test.hpp>

// The plugin's real gRPC server in this process, on CAF's threaded scheduler,
// with a backend whose site starts answer only when the test says so. A
// client cancels calls while the actors are about to answer, or are
// answering, so that replies arrive after the call was cancelled. A bridge
// that touched a finished call's request or response shows up under ASan
// (heap-use-after-free); here every call must still end cleanly.

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/supervisor.hpp"
#include "adapters/grpc/plugin_server.hpp"
#include "common/logging.hpp"
#include "messages/type_ids.hpp"
#include "nomad/drivers/driver.grpc.pb.h"
#include "tests/actors/fake_backend.hpp"
#include "tests/grpc/held_backend.hpp"
#include "tests/grpc/recoverable.hpp"

using namespace nomad_iis;
using namespace std::chrono_literals;
namespace drivers = hashicorp::nomad::plugins::drivers::proto;

namespace {

/// How often each race runs (NOMAD_IIS_GRPC_ITERATIONS overrides).
int iterations(int fallback) {
  const char* v = std::getenv("NOMAD_IIS_GRPC_ITERATIONS");
  return v && *v ? std::max(1, std::atoi(v)) : fallback;
}

/// Mounts the driver ignores but StartTask copies into its answer: they make
/// that copy take long enough for a cancel to land in the middle of it.
constexpr int padding_mounts = 30000;

/// The cancel-during-reply race: every delay step (see there) comes up
/// this often; sanitized builds are several times slower per call.
#if defined(__SANITIZE_ADDRESS__)
constexpr int race_rounds = 4;
#else
constexpr int race_rounds = 10;
#endif

/// `n` mounts, built once for all requests.
const google::protobuf::RepeatedPtrField<drivers::Mount>& padding(int n) {
  static google::protobuf::RepeatedPtrField<drivers::Mount> mounts;
  while (mounts.size() < n) {
    auto* m = mounts.Add();
    m->set_task_path("/padding/" + std::to_string(mounts.size() - 1));
    m->set_host_path("/srv/padding/" + std::to_string(mounts.size() - 1));
  }
  return mounts;
}

std::string static_sample_config() {
  std::ifstream in(std::string(NOMAD_IIS_CONFIG_DATA_DIR) + "/task_static_sample.msgpack",
                   std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// One client call in flight and its outcome.
template <class Request, class Response>
struct call {
  grpc::ClientContext ctx;
  Request request;
  Response response;
  std::promise<grpc::Status> done;
  std::future<grpc::Status> status = done.get_future();

  grpc::Status wait() {
    BOOST_REQUIRE_MESSAGE(status.wait_for(30s) == std::future_status::ready,
                          "the call did not end within 30 s");
    return status.get();
  }
};

using start_call = call<drivers::StartTaskRequest, drivers::StartTaskResponse>;
using wait_call = call<drivers::WaitTaskRequest, drivers::WaitTaskResponse>;

struct quiet_logs {
  quiet_logs() { logging::init("error"); }
};
BOOST_TEST_GLOBAL_FIXTURE(quiet_logs);

struct server_fixture {
  std::shared_ptr<test::held_starts> starts = std::make_shared<test::held_starts>();
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  driver_actors actors;
  std::unique_ptr<grpc_adapter::plugin_server> server;
  std::unique_ptr<drivers::Driver::Stub> stub;
  std::filesystem::path alloc_dir;
  std::vector<std::string> tasks;
  int next_task = 0;

  server_fixture() {
    configure_actor_system(cfg);
    cfg.set("logger.verbosity", caf::atom("quiet"));
    cfg.set("logger.console", caf::atom("none"));
    cfg.set("scheduler.max-threads", std::size_t{2});
    sys = std::make_unique<caf::actor_system>(cfg);
    // Planned as a plugin that is not root plans: no Unix user per pool.
    actors = spawn_driver(*sys, std::make_shared<test::fake_backend>(
                                    std::make_shared<test::held_launcher>(starts), false));
    alloc_dir = std::filesystem::temp_directory_path() /
                ("nomad_iis_grpc_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(alloc_dir / "web" / "local");
    // The sites' folders go below the test's folder, as plain as can be.
    config::driver_config driver;
    driver.data_dir = (alloc_dir / "data").string();
    driver.placeholder_app_path.clear();
    driver.directory_security = false;
    caf::anon_send(actors.supervisor, msg::set_driver_config{driver, true});
    server =
        std::make_unique<grpc_adapter::plugin_server>(*sys, actors, grpc_adapter::server_hooks{});
    server->start();
    stub = drivers::Driver::NewStub(
        grpc::CreateChannel("unix:" + server->socket_path(), grpc::InsecureChannelCredentials()));
  }

  ~server_fixture() {
    for (const auto& id : tasks) destroy(id);
    stub.reset();
    server->stop(2s);
    for (const auto& a : actors.all()) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sys.reset();  // waits for every actor, the bridges included
    std::filesystem::remove_all(alloc_dir);
  }

  /// A StartTask request for a new task of the static sample job.
  drivers::StartTaskRequest start_request(int mounts = 0) {
    auto id = "alloc" + std::to_string(next_task) + "/web/" + std::to_string(1000 + next_task);
    ++next_task;
    tasks.push_back(id);
    drivers::StartTaskRequest request;
    auto* task = request.mutable_task();
    task->set_id(id);
    task->set_name("web");
    task->set_alloc_id(id.substr(0, id.find('/')));
    task->set_job_name("static-sample-app");
    task->set_task_group_name("app");
    task->set_namespace_("default");
    task->set_alloc_dir(alloc_dir.string());
    task->set_stdout_path("/dev/null");
    task->set_stderr_path("/dev/null");
    task->set_msgpack_driver_config(static_sample_config());
    auto* port = task->mutable_resources()->add_ports();
    port->set_label("httplabel");
    port->set_value(23456);
    port->set_host_ip("127.0.0.1");
    if (mounts > 0) {
      const auto& all = padding(mounts);
      task->mutable_mounts()->Reserve(mounts);
      for (int i = 0; i < mounts; ++i) *task->add_mounts() = all.Get(i);
    }
    return request;
  }

  std::unique_ptr<start_call> start_async(drivers::StartTaskRequest request) {
    auto c = std::make_unique<start_call>();
    c->request = std::move(request);
    stub->async()->StartTask(&c->ctx, &c->request, &c->response,
                             [p = c.get()](grpc::Status s) { p->done.set_value(std::move(s)); });
    return c;
  }

  std::unique_ptr<wait_call> wait_async(const std::string& id) {
    auto c = std::make_unique<wait_call>();
    c->request.set_task_id(id);
    stub->async()->WaitTask(&c->ctx, &c->request, &c->response,
                            [p = c.get()](grpc::Status s) { p->done.set_value(std::move(s)); });
    return c;
  }

  /// Starts a task and lets its site start; returns its id.
  std::string start_running() {
    auto c = start_async(start_request());
    starts->next()(std::nullopt);
    auto status = c->wait();
    BOOST_REQUIRE_MESSAGE(status.ok(), status.error_message());
    return c->request.task().id();
  }

  /// Force-destroys a task (a forgotten one answers NOT_FOUND).
  grpc::Status destroy(const std::string& id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    drivers::DestroyTaskRequest request;
    request.set_task_id(id);
    request.set_force(true);
    drivers::DestroyTaskResponse response;
    return stub->DestroyTask(&ctx, request, &response);
  }
};

bool cancelled(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::CANCELLED ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(bridge, server_fixture)

BOOST_AUTO_TEST_CASE(a_start_gets_its_handle) {
  auto c = start_async(start_request(100));
  starts->next()(std::nullopt);
  auto status = c->wait();
  BOOST_REQUIRE_MESSAGE(status.ok(), status.error_message());
  const auto& handle = c->response.handle();
  BOOST_TEST(handle.config().id() == c->request.task().id());
  BOOST_TEST(handle.config().mounts_size() == 100);
  BOOST_TEST(handle.state() == drivers::RUNNING);
  BOOST_TEST(!handle.driver_state().empty());

  grpc::ClientContext ctx;
  drivers::InspectTaskRequest inspect;
  inspect.set_task_id(c->request.task().id());
  drivers::InspectTaskResponse answer;
  auto inspected = stub->InspectTask(&ctx, inspect, &answer);
  BOOST_REQUIRE_MESSAGE(inspected.ok(), inspected.error_message());
  BOOST_TEST(answer.task().id() == c->request.task().id());
}

BOOST_AUTO_TEST_CASE(a_failed_start_gets_its_error) {
  auto c = start_async(start_request());
  starts->next()(iis::failure{iis::errc::process_failed, "nginx refused the config"});
  auto status = c->wait();
  BOOST_TEST(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  BOOST_TEST(status.error_message().find("nginx refused the config") != std::string::npos);
  // A retry may succeed: Nomad restarts the task by its restart policy.
  BOOST_TEST((test::recoverable_of(status) == std::optional<bool>(true)));
}

BOOST_AUTO_TEST_CASE(a_start_refused_for_its_config_is_not_retried) {
  auto c = start_async(start_request());
  starts->next()(
      iis::failure{iis::errc::invalid_config, "application /: web.config: not well-formed"});
  auto status = c->wait();
  BOOST_TEST(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // The actors name the process that failed; the bridge adds nothing.
  BOOST_TEST(status.error_message() == "nginx (front): application /: web.config: not well-formed");
  // The same config fails every start: Nomad fails the task instead.
  BOOST_TEST((test::recoverable_of(status) == std::optional<bool>(false)));
}

BOOST_AUTO_TEST_CASE(a_start_answered_after_its_cancel_is_dropped) {
  for (int i = 0, n = iterations(40); i < n; ++i) {
    auto c = start_async(start_request(1000));
    auto release = starts->next();
    c->ctx.TryCancel();
    auto status = c->wait();
    BOOST_CHECK_MESSAGE(cancelled(status), "iteration " << i << ": " << status.error_message());
    std::this_thread::sleep_for(2ms);  // the server sees the cancel before the reply comes
    release(std::nullopt);
    auto destroyed = destroy(c->request.task().id());
    BOOST_CHECK_MESSAGE(destroyed.ok(), "iteration " << i << ": " << destroyed.error_message());
  }
}

BOOST_AUTO_TEST_CASE(a_start_past_its_deadline_drops_the_late_reply) {
  for (int i = 0, n = iterations(40) / 8 + 1; i < n; ++i) {
    auto request = start_request(1000);
    auto c = std::make_unique<start_call>();
    c->request = std::move(request);
    c->ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    stub->async()->StartTask(&c->ctx, &c->request, &c->response,
                             [p = c.get()](grpc::Status s) { p->done.set_value(std::move(s)); });
    auto release = starts->next();
    auto status = c->wait();
    BOOST_CHECK_MESSAGE(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED,
                        "iteration " << i << ": " << status.error_message());
    std::this_thread::sleep_for(5ms);
    release(std::nullopt);
    auto destroyed = destroy(c->request.task().id());
    BOOST_CHECK_MESSAGE(destroyed.ok(), "iteration " << i << ": " << destroyed.error_message());
  }
}

BOOST_AUTO_TEST_CASE(a_cancel_during_the_reply_never_touches_the_call) {
  // The reply is released first and the cancel follows after a delay of 0,
  // then 0.1 to 102.4 ms (doubling), so it lands before, during and after
  // the bridge fills the (large) response, and after the client has it.
  constexpr int steps = 12;
  int answered = 0;
  int dropped = 0;
  for (int i = 0, n = iterations(steps * race_rounds); i < n; ++i) {
    auto c = start_async(start_request(padding_mounts));
    auto release = starts->next();
    release(std::nullopt);
    auto step = i % steps;
    std::this_thread::sleep_for(std::chrono::microseconds(step == 0 ? 0 : 50 << step));
    c->ctx.TryCancel();
    auto status = c->wait();
    if (status.ok()) {
      ++answered;
      const auto& config = c->response.handle().config();
      BOOST_TEST(config.mounts_size() == padding_mounts);
      BOOST_TEST(config.mounts(padding_mounts - 1).host_path() ==
                 "/srv/padding/" + std::to_string(padding_mounts - 1));
      BOOST_TEST(!c->response.handle().driver_state().empty());
    } else {
      ++dropped;
      BOOST_CHECK_MESSAGE(cancelled(status), "iteration " << i << ": " << status.error_message());
    }
    auto destroyed = destroy(c->request.task().id());
    BOOST_CHECK_MESSAGE(destroyed.ok(), "iteration " << i << ": " << destroyed.error_message());
  }
  BOOST_TEST_MESSAGE("answered " << answered << ", cancelled " << dropped);
}

BOOST_AUTO_TEST_CASE(a_wait_gets_the_exit) {
  auto id = start_running();
  auto c = wait_async(id);
  std::this_thread::sleep_for(20ms);
  BOOST_TEST((c->status.wait_for(0s) == std::future_status::timeout));
  BOOST_TEST(destroy(id).ok());
  auto status = c->wait();
  BOOST_REQUIRE_MESSAGE(status.ok(), status.error_message());
  BOOST_TEST(c->response.has_result());
}

BOOST_AUTO_TEST_CASE(a_cancelled_wait_drops_the_exit) {
  for (int i = 0, n = iterations(40); i < n; ++i) {
    auto id = start_running();
    auto c = wait_async(id);
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 8)));
    c->ctx.TryCancel();
    // The exit races the cancel: before, at or after it.
    if (i % 3 != 0) std::this_thread::sleep_for(std::chrono::microseconds(300 * (i % 5)));
    auto destroyed = destroy(id);
    BOOST_CHECK_MESSAGE(destroyed.ok(), "iteration " << i << ": " << destroyed.error_message());
    auto status = c->wait();
    BOOST_CHECK_MESSAGE((status.ok() || cancelled(status)),
                        "iteration " << i << ": " << status.error_message());
  }
}

BOOST_AUTO_TEST_CASE(cancelled_streams_end_cleanly) {
  auto id = start_running();
  for (int i = 0, n = iterations(40) / 2 + 1; i < n; ++i) {
    {
      grpc::ClientContext ctx;
      drivers::TaskStatsRequest request;
      request.set_task_id(id);
      request.mutable_collection_interval()->set_nanos(100'000'000);
      auto reader = stub->TaskStats(&ctx, request);
      drivers::TaskStatsResponse stats;
      BOOST_TEST(reader->Read(&stats));
      std::this_thread::sleep_for(std::chrono::microseconds(7000 * (i % 16)));
      ctx.TryCancel();
      while (reader->Read(&stats)) {
      }
      BOOST_TEST(cancelled(reader->Finish()));
    }
    {
      grpc::ClientContext ctx;
      drivers::TaskEventsRequest request;
      auto reader = stub->TaskEvents(&ctx, request);
      // Events of other tasks flow while the stream is cancelled.
      auto other = start_async(start_request());
      starts->next()(std::nullopt);
      std::this_thread::sleep_for(std::chrono::microseconds(100 * (i % 8)));
      ctx.TryCancel();
      drivers::DriverTaskEvent event;
      while (reader->Read(&event)) {
      }
      BOOST_TEST(cancelled(reader->Finish()));
      BOOST_TEST(other->wait().ok());
      BOOST_TEST(destroy(other->request.task().id()).ok());
    }
    {
      grpc::ClientContext ctx;
      drivers::FingerprintRequest request;
      auto reader = stub->Fingerprint(&ctx, request);
      drivers::FingerprintResponse fp;
      BOOST_TEST(reader->Read(&fp));
      BOOST_TEST(fp.health() == drivers::FingerprintResponse::HEALTHY);
      ctx.TryCancel();
      while (reader->Read(&fp)) {
      }
      BOOST_TEST(cancelled(reader->Finish()));
    }
  }
}

/// ExecTaskStreaming's outcome, read to its end.
struct exec_outcome {
  std::string out, err;
  int closes = 0;
  bool exited = false;
  int exit_code = -1;
  grpc::Status status;
};

using exec_stream =
    grpc::ClientReaderWriter<drivers::ExecTaskStreamingRequest, drivers::ExecTaskStreamingResponse>;

exec_outcome read_to_end(exec_stream& stream) {
  exec_outcome got;
  drivers::ExecTaskStreamingResponse response;
  while (stream.Read(&response)) {
    got.out += response.stdout().data();
    got.err += response.stderr().data();
    got.closes += response.stdout().close() + response.stderr().close();
    if (response.exited()) {
      got.exited = true;
      got.exit_code = response.result().exit_code();
    }
  }
  got.status = stream.Finish();
  return got;
}

std::unique_ptr<exec_stream> open_exec(drivers::Driver::Stub& stub, grpc::ClientContext& ctx,
                                       const std::string& id, std::vector<std::string> command) {
  auto stream = stub.ExecTaskStreaming(&ctx);
  drivers::ExecTaskStreamingRequest setup;
  setup.mutable_setup()->set_task_id(id);
  for (auto& arg : command) setup.mutable_setup()->add_command(arg);
  BOOST_REQUIRE(stream->Write(setup));
  return stream;
}

BOOST_AUTO_TEST_CASE(exec_answers_with_output_and_exit_code) {
  auto id = start_running();
  grpc::ClientContext ctx;
  drivers::ExecTaskRequest request;
  request.set_task_id(id);
  for (const char* arg : {"/bin/sh", "-c", "pwd; echo oops >&2; exit 4"}) request.add_command(arg);
  drivers::ExecTaskResponse response;
  auto status = stub->ExecTask(&ctx, request, &response);
  BOOST_REQUIRE_MESSAGE(status.ok(), status.error_message());
  BOOST_TEST(response.stdout() == (alloc_dir / "web").string() + "\n");  // the task dir
  BOOST_TEST(response.stderr() == "oops\n");
  BOOST_TEST(response.result().exit_code() == 4);

  grpc::ClientContext timed;
  request.clear_command();
  for (const char* arg : {"/bin/sleep", "30"}) request.add_command(arg);
  request.mutable_timeout()->set_nanos(300'000'000);
  const auto begun = std::chrono::steady_clock::now();
  status = stub->ExecTask(&timed, request, &response);
  BOOST_TEST(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  BOOST_TEST((std::chrono::steady_clock::now() - begun < 10s));

  grpc::ClientContext unknown;
  request.set_task_id("no/such/task");
  status = stub->ExecTask(&unknown, request, &response);
  BOOST_TEST(status.error_code() == grpc::StatusCode::NOT_FOUND);
}

BOOST_AUTO_TEST_CASE(an_exec_stream_takes_input_and_ends_with_the_exit) {
  auto id = start_running();
  grpc::ClientContext ctx;
  auto stream = open_exec(*stub, ctx, id, {"/bin/sh", "-c", "cat; echo done >&2; exit 2"});
  drivers::ExecTaskStreamingRequest input;
  input.mutable_stdin()->set_data("typed ");
  BOOST_TEST(stream->Write(input));
  BOOST_TEST(stream->Write(drivers::ExecTaskStreamingRequest{}));  // a heartbeat
  input.mutable_stdin()->set_data("text\n");
  input.mutable_stdin()->set_close(true);
  BOOST_TEST(stream->Write(input));
  stream->WritesDone();
  auto got = read_to_end(*stream);
  BOOST_REQUIRE_MESSAGE(got.status.ok(), got.status.error_message());
  BOOST_TEST(got.out == "typed text\n");
  BOOST_TEST(got.err == "done\n");
  BOOST_TEST(got.closes == 2);
  BOOST_TEST(got.exited);
  BOOST_TEST(got.exit_code == 2);

  grpc::ClientContext missing;
  got = read_to_end(*open_exec(*stub, missing, id, {"no-such-command-for-exec"}));
  BOOST_TEST(got.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  BOOST_TEST(got.status.error_message().find("no-such-command-for-exec") != std::string::npos,
             got.status.error_message());
}

BOOST_AUTO_TEST_CASE(a_cancelled_exec_stream_kills_its_command) {
  auto id = start_running();
  for (int i = 0, n = iterations(6); i < n; ++i) {
    grpc::ClientContext ctx;
    auto stream = open_exec(*stub, ctx, id, {"/bin/sh", "-c", "echo $$; exec sleep 600"});
    drivers::ExecTaskStreamingResponse response;
    BOOST_REQUIRE(stream->Read(&response));
    const int pid = std::stoi(response.stdout().data());
    BOOST_REQUIRE(::kill(pid, 0) == 0);
    ctx.TryCancel();
    while (stream->Read(&response)) {
    }
    BOOST_TEST(cancelled(stream->Finish()));
    bool gone = false;
    for (int tries = 0; tries < 200 && !gone; ++tries) {
      gone = ::kill(pid, 0) != 0;  // our child, reaped by the session: no zombie
      if (!gone) std::this_thread::sleep_for(50ms);
    }
    BOOST_TEST(gone, "the command " << pid << " outlived its exec stream");
  }
}

BOOST_AUTO_TEST_CASE(exec_output_past_the_credit_flows_as_the_client_reads) {
  // Each written frame is the session's credit: without acknowledgements
  // these would stop after the first few chunks.
  auto id = start_running();
  grpc::ClientContext ctx;
  auto stream = open_exec(*stub, ctx, id, {"/bin/sh", "-c", "head -c 33554432 /dev/zero; exit 5"});
  drivers::ExecTaskStreamingRequest input;
  input.mutable_stdin()->set_close(true);
  BOOST_TEST(stream->Write(input));
  stream->WritesDone();
  auto got = read_to_end(*stream);
  BOOST_REQUIRE_MESSAGE(got.status.ok(), got.status.error_message());
  BOOST_TEST(got.out.size() == 33554432u);
  BOOST_TEST(got.exit_code == 5);

  // The unary form keeps 1 MiB of each stream and takes the rest as it comes.
  grpc::ClientContext unary;
  drivers::ExecTaskRequest request;
  request.set_task_id(id);
  for (const char* arg : {"/bin/sh", "-c", "head -c 8388608 /dev/zero; echo end >&2; exit 6"})
    request.add_command(arg);
  drivers::ExecTaskResponse response;
  auto status = stub->ExecTask(&unary, request, &response);
  BOOST_REQUIRE_MESSAGE(status.ok(), status.error_message());
  BOOST_TEST(response.stdout().size() == 1024u * 1024u);
  BOOST_TEST(response.stderr() == "end\n");
  BOOST_TEST(response.result().exit_code() == 6);
}

BOOST_AUTO_TEST_CASE(stop_task_ends_a_running_exec_session_with_its_exit_code) {
  auto id = start_running();
  grpc::ClientContext ctx;
  auto stream = open_exec(*stub, ctx, id, {"/bin/sh", "-c", "echo $$; exec sleep 600"});
  drivers::ExecTaskStreamingResponse first;
  BOOST_REQUIRE(stream->Read(&first));
  const int pid = std::stoi(first.stdout().data());
  grpc::ClientContext stop_ctx;
  stop_ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  drivers::StopTaskRequest stop;
  stop.set_task_id(id);
  drivers::StopTaskResponse stopped;
  auto status = stub->StopTask(&stop_ctx, stop, &stopped);
  BOOST_REQUIRE_MESSAGE(status.ok(), status.error_message());
  auto got = read_to_end(*stream);
  BOOST_REQUIRE_MESSAGE(got.status.ok(), got.status.error_message());
  BOOST_TEST(got.exited);
  BOOST_TEST(got.exit_code == 128 + SIGKILL);
  bool gone = false;
  for (int tries = 0; tries < 200 && !gone; ++tries) {
    gone = ::kill(pid, 0) != 0;  // reaped by the session as it ends
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  BOOST_TEST(gone, "the command " << pid << " outlived StopTask");
}

BOOST_AUTO_TEST_CASE(stopping_the_server_cancels_open_calls) {
  auto id = start_running();
  std::vector<std::unique_ptr<wait_call>> waits;
  for (int i = 0; i < 8; ++i) waits.push_back(wait_async(id));
  auto held = start_async(start_request(padding_mounts));
  auto release = starts->next();
  std::this_thread::sleep_for(20ms);
  std::thread releaser([&] { release(std::nullopt); });
  server->stop(0ms);
  releaser.join();
  for (auto& w : waits) BOOST_TEST(!w->wait().ok());
  held->wait();  // answered or cancelled: it only has to end
  // The server is gone: the tasks are destroyed through the actors.
  caf::scoped_actor self{*sys};
  for (const auto& task : tasks)
    self->request(actors.supervisor, std::chrono::seconds(30), msg::destroy_task{task, true})
        .receive([] {}, [](caf::error&) {});
  tasks.clear();
}

BOOST_AUTO_TEST_SUITE_END()
