#pragma once
// One fixture for all actor tests: an actor system on CAF's deterministic
// test scheduler with virtual time, the driver's actors on a fake backend
// whose processes are a fake_launcher (blocking workers on the scheduler
// too, so everything runs on the test's thread), scratch folders for the
// allocation and the driver's data, and helpers that send a request and
// collect its outcome without blocking.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/site_context.hpp"
#include "actors/supervisor.hpp"
#include "common/unique_fd.hpp"
#include "iis/net_probe.hpp"
#include "messages/error.hpp"
#include "messages/site.hpp"
#include "messages/type_ids.hpp"
#include "tests/actors/fake_backend.hpp"
#include "tests/actors/fake_inspector.hpp"
#include "tests/actors/fake_launcher.hpp"
#include "tests/actors/task_configs.hpp"

namespace nomad_iis::test {

template <class Reply>
struct outcome {
  std::optional<Reply> value;
  std::optional<caf::error> error;
  bool answered() const { return value.has_value() || error.has_value(); }
};

struct void_outcome {
  bool done = false;
  std::optional<caf::error> error;
  bool answered() const { return done || error.has_value(); }
};

inline caf::actor_system_config& test_config() {
  static caf::actor_system_config cfg = [] {
    caf::actor_system_config c;
    configure_actor_system(c);
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.verbosity", caf::atom("quiet"));
    return c;
  }();
  return cfg;
}

/// Listens on every address at `port`, as another program would.
inline unique_fd occupy(std::int32_t port) {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), 4) != 0)
    throw std::runtime_error("cannot occupy port " + std::to_string(port));
  return fd;
}

/// The id of the task the fixture starts unless told otherwise.
inline const std::string task_id = "alloc1/web/0000beef";

struct fixture {
  caf::actor_system sys{test_config()};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::shared_ptr<fake_launcher> procs = std::make_shared<fake_launcher>();
  std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>(procs);
  std::filesystem::path root;
  std::filesystem::path alloc_dir;  ///< holds the task "web" with its local/
  std::filesystem::path data_dir;   ///< the driver's data_dir
  config::driver_config driver;
  std::int32_t http_port = 0;  ///< the port label "httplabel"
  /// What the tasks asked the inspector for (screenshots, dumps).
  std::shared_ptr<inspected> inspections = std::make_shared<inspected>();
  driver_actors actors;

  fixture() {
    sys.await_actors_before_shutdown(false);
    root = std::filesystem::temp_directory_path() /
           ("nia-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    alloc_dir = root / "alloc";
    data_dir = root / "data";
    std::filesystem::create_directories(alloc_dir / "web" / "local");
    driver.data_dir = data_dir.string();
    driver.placeholder_app_path.clear();
    driver.directory_security = false;
    // These flows drive the pools' own nginx (the second hop every site
    // with https, several pools or an application process keeps); the
    // front serving a sole pool's files is tests/iis/site_single_hop_test.
    driver.single_hop_static = false;
    driver.allowed_apppool_identities = {"ApplicationPoolIdentity", "NetworkService"};
    http_port = free_port();
    inspections->dir = root;
    actors = spawn_driver(sys, backend, /*detached_workers=*/false, fake_inspector(inspections));
    configure(driver);
  }

  ~fixture() {
    // Task actors and their children hold each other through requests in
    // flight: they end explicitly. Then no timer may fire on shutdown (the
    // test scheduler fires every pending one, and pools re-arm theirs).
    for (const auto& actor : answered_by_) caf::anon_send_exit(actor, caf::exit_reason::kill);
    for (const auto& a : actors.all()) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (int i = 0; i < 100; ++i) {
      sched.clock().cancel_all();
      if (sched.run() == 0 && !sched.has_pending_timeout()) break;
    }
    std::error_code error;
    std::filesystem::remove_all(root, error);
  }

  /// A port for the binding outside the kernel's ephemeral range (an
  /// outgoing connection elsewhere on the node could take one of those
  /// between now and the start's check that the binding is free).
  static std::int32_t free_port() {
    static std::minstd_rand random(static_cast<unsigned>(::getpid()));
    for (int attempt = 0; attempt < 100; ++attempt) {
      const auto port = static_cast<std::int32_t>(20000 + random() % 12000);
      if (!iis::check_bindable("", port)) return port;
    }
    throw std::runtime_error("no free port in 20000-32000");
  }

  static int& counter() {
    static int n = 0;
    return n;
  }

  /// Gives the supervisor (and the tasks it starts from now on) this config.
  void configure(const config::driver_config& cfg) {
    driver = cfg;
    caf::anon_send(actors.supervisor, msg::set_driver_config{cfg, true});
    run();
  }

  /// Runs every queued job until none is left; time stands still.
  void run() { sched.run(); }

  /// Lets `span` of virtual time pass: every timer due meanwhile fires in
  /// order, with everything it causes run before the next one.
  void advance(caf::timespan span) {
    auto& clock = sched.clock();
    const auto until = clock.now() + span;
    run();
    while (!clock.schedule().empty() && clock.schedule().begin()->first <= until) {
      clock.trigger_timeout();
      run();
    }
    if (clock.current_time < until) clock.current_time = until;
  }

  template <class Reply, class Message>
  std::shared_ptr<outcome<Reply>> ask(const caf::actor& dest, Message m) {
    auto out = std::make_shared<outcome<Reply>>();
    auto seen = answerers();
    // Spawned with an argument: CAF 0.17's argument-less spawn trips UBSan
    // (tests/ubsan.supp) in a frame the suppression cannot always name.
    sys.spawn(
        [out, m, seen](caf::event_based_actor* self, const caf::actor& dest) {
          self->request(dest, caf::infinite, m)
              .then(
                  [self, out, seen](Reply& r) {
                    seen(self->current_sender());
                    out->value = std::move(r);
                  },
                  [out](caf::error& e) { out->error = std::move(e); });
        },
        dest);
    run();
    return out;
  }

  template <class Message>
  std::shared_ptr<void_outcome> ask_void(const caf::actor& dest, Message m) {
    auto out = std::make_shared<void_outcome>();
    auto seen = answerers();
    sys.spawn(
        [out, m, seen](caf::event_based_actor* self, const caf::actor& dest) {
          self->request(dest, caf::infinite, m)
              .then(
                  [self, out, seen]() {
                    seen(self->current_sender());
                    out->done = true;
                  },
                  [out](caf::error& e) { out->error = std::move(e); });
        },
        dest);
    run();
    return out;
  }

  /// A task like the one Nomad describes for the static sample job.
  iis::task_context task(const std::string& id = task_id) {
    iis::task_context t;
    t.task_id = id;
    t.alloc_id = id.substr(0, id.find('/'));
    t.task_name = "web";
    t.job_name = "static-sample-app";
    t.namespace_name = "default";
    t.group_name = "app";
    t.alloc_dir = alloc_dir.string();
    t.stdout_path = "/dev/null";
    t.stderr_path = "/dev/null";
    t.ports.push_back({"httplabel", http_port, 0, "127.0.0.1"});
    return t;
  }

  /// Starts a task (the sample with its pool AlwaysRunning unless `config`
  /// says otherwise) and runs until it answers.
  std::string start_running(const std::string& id = task_id,
                            const std::string& config = always_running_config()) {
    auto started = ask<msg::started_task>(actors.supervisor, msg::start_task{task(id), config});
    if (!started->value)
      throw std::runtime_error("start did not succeed: " +
                               (started->error ? message_of(*started->error) : "no answer"));
    return started->value->driver_state;
  }

  /// The task actor of a running task.
  caf::actor task_actor(const std::string& alloc_id = "alloc1", const std::string& name = "web") {
    auto found = ask<msg::found_task>(actors.supervisor, msg::find_task{alloc_id, name});
    if (!found->value) throw std::runtime_error("no task " + name + " in " + alloc_id);
    return found->value->task;
  }

  iis::site_snapshot snapshot(const caf::actor& task) {
    auto snap = ask<iis::site_snapshot>(task, msg::get_site_snapshot{});
    if (!snap->value) throw std::runtime_error("no snapshot");
    return *snap->value;
  }

  /// Remembers an actor that must end with the test.
  void own(const caf::actor& actor) {
    if (std::find(answered_by_.begin(), answered_by_.end(), actor) == answered_by_.end())
      answered_by_.push_back(actor);
  }

 private:
  /// Whoever answers a request may be a task actor (the supervisor delegates
  /// StartTask and RecoverTask): it ends with the test.
  std::function<void(const caf::strong_actor_ptr&)> answerers() {
    return [this](const caf::strong_actor_ptr& sender) {
      auto actor = caf::actor_cast<caf::actor>(sender);
      if (actor && std::find(answered_by_.begin(), answered_by_.end(), actor) == answered_by_.end())
        answered_by_.push_back(actor);
    };
  }

  std::vector<caf::actor> answered_by_;
};

}  // namespace nomad_iis::test
