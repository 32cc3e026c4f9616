#pragma once
// One fixture for all actor tests: an actor system on CAF's deterministic
// test scheduler, the driver's actors on a fake backend, and helpers that
// send a request and collect its outcome without blocking.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/supervisor.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"
#include "tests/actors/fake_backend.hpp"

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

struct fixture {
  caf::actor_system sys{test_config()};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::shared_ptr<fake_world> world = std::make_shared<fake_world>();
  std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>(world);
  driver_actors actors;
  std::filesystem::path alloc_dir;

  fixture() {
    sys.await_actors_before_shutdown(false);
    actors = spawn_driver(sys, backend);
    alloc_dir =
        std::filesystem::temp_directory_path() /
        ("nomad_iis_actor_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::create_directories(alloc_dir / "web" / "local");
    run();
  }
  ~fixture() {
    // The test scheduler fires every pending timer on shutdown; a live
    // fingerprinter would re-arm its tick forever.
    for (const auto& a : {actors.fingerprinter, actors.hub, actors.supervisor})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
    std::filesystem::remove_all(alloc_dir);
  }

  static int& counter() {
    static int n = 0;
    return n;
  }

  /// Runs every queued job and fires due timers, until nothing is left.
  void run() { sched.run(); }

  /// Releases held backend completions one at a time until none is left.
  void complete_all() {
    while (!world->pending.empty()) {
      world->complete_next();
      run();
    }
  }

  template <class Reply, class Message>
  std::shared_ptr<outcome<Reply>> ask(const caf::actor& dest, Message m) {
    auto out = std::make_shared<outcome<Reply>>();
    sys.spawn([out, dest, m](caf::event_based_actor* self) {
      self->request(dest, caf::infinite, m)
          .then([out](Reply& r) { out->value = std::move(r); },
                [out](caf::error& e) { out->error = std::move(e); });
    });
    run();
    return out;
  }

  template <class Message>
  std::shared_ptr<void_outcome> ask_void(const caf::actor& dest, Message m) {
    auto out = std::make_shared<void_outcome>();
    sys.spawn([out, dest, m](caf::event_based_actor* self) {
      self->request(dest, caf::infinite, m)
          .then([out]() { out->done = true; }, [out](caf::error& e) { out->error = std::move(e); });
    });
    run();
    return out;
  }

  /// A task like the one Nomad describes for the static sample job.
  iis::task_context task(const std::string& id = "alloc1/web/0000beef") {
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
    t.ports.push_back({"httplabel", 23456, 0, "127.0.0.1"});
    return t;
  }

  /// Nomad's encoding of the static sample app's config block (golden file).
  static std::string static_sample_config() {
    std::ifstream in(std::string(NOMAD_IIS_CONFIG_DATA_DIR) + "/task_static_sample.msgpack",
                     std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  /// Starts a task and lets the backend's start succeed.
  std::string start_running(const std::string& id = "alloc1/web/0000beef") {
    auto started = ask<msg::started_task>(actors.supervisor,
                                          msg::start_task{task(id), static_sample_config()});
    complete_all();
    if (!started->value) throw std::runtime_error("start did not succeed");
    return started->value->driver_state;
  }
};

}  // namespace nomad_iis::test
