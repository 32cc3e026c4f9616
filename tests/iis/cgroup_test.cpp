// iis/cgroup.hpp on this machine's real cgroups: limits written and read
// back, processes joined before exec, OOM kills counted, everything removed.
// Skipped, saying why, where cgroups are missing or not writable.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "iis/cgroup.hpp"
#include "iis/model.hpp"
#include "iis/proc_file.hpp"
#include "iis/process.hpp"

using namespace nomad_iis::iis;

namespace {

using std::chrono::seconds;

/// Our cgroups, or why this machine cannot run the tests.
boost::test_tools::assertion_result cgroups_writable(boost::unit_test::test_unit_id) {
  const auto system = probe_cgroups();
  boost::test_tools::assertion_result result(false);
  if (system.version == cgroup_version::none) {
    result.message() << "no usable cgroups: " << system.reason;
    return result;
  }
  const auto probe = task_cgroup(system, "writable-probe-" + std::to_string(::getpid()));
  try {
    create_cgroup(probe);
  } catch (const std::exception& e) {
    result.message() << "cgroups not writable here: " << e.what();
    return result;
  }
  remove_cgroup(probe, seconds(1));
  return true;
}

std::string read_trimmed(const std::string& path) {
  auto text = read_small_file(path).value_or("<missing " + path + ">");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

/// Runs and is no zombie (a killed child stays one until it is reaped).
bool running(pid_t pid) {
  const auto stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  const auto close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

/// A fresh task cgroup named after this process, removed at the end.
struct scratch_cgroup {
  cgroup_system system = probe_cgroups();
  cgroup_dirs task =
      task_cgroup(system, "test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
  scratch_cgroup() { create_cgroup(task); }
  ~scratch_cgroup() { remove_cgroup(task, seconds(5)); }

  static int& counter() {
    static int value = 0;
    return value;
  }
};

spawn_request shell(const std::string& script, const cgroup_dirs& group) {
  spawn_request request;
  request.path = "/bin/sh";
  request.args = {"sh", "-c", script};
  request.env = {"PATH=/usr/bin:/bin"};
  request.cgroup_procs = procs_files(group);
  return request;
}

bool lists(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(cgroups)

BOOST_AUTO_TEST_CASE(cpu_weight_converts_shares_as_runc_does) {
  BOOST_TEST(cpu_weight_from_shares(0) == 0u);
  BOOST_TEST(cpu_weight_from_shares(2) == 1u);
  BOOST_TEST(cpu_weight_from_shares(1024) == 39u);
  BOOST_TEST(cpu_weight_from_shares(262144) == 10000u);
  BOOST_TEST(cpu_weight_from_shares(1u << 30) == 10000u);
}

BOOST_AUTO_TEST_CASE(hostile_names_are_refused) {
  cgroup_system system;
  system.version = cgroup_version::v1;
  system.own = {cgroup_version::v1, {{"memory", "/sys/fs/cgroup/memory"}}};
  const std::vector<std::string> names{"",          "..",  ".hidden",   "a/b",
                                       "../../etc", "x y", "tab\tname", std::string(201, 'a')};
  for (const auto& name : names) {
    BOOST_CHECK_THROW(task_cgroup(system, name), std::invalid_argument);
  }
  const auto group = task_cgroup(system, "alloc-1.web");
  BOOST_TEST(group.dir_of("memory") == "/sys/fs/cgroup/memory/nomad_iis/alloc-1.web.scope");
  BOOST_CHECK_THROW(child_cgroup(group, "../escape"), std::invalid_argument);
  BOOST_TEST(child_cgroup(group, "pool-0").dir_of("memory") ==
             "/sys/fs/cgroup/memory/nomad_iis/alloc-1.web.scope/pool-0");
}

BOOST_AUTO_TEST_CASE(records_name_cgroups_only) {
  BOOST_CHECK_THROW(decode_cgroup("v1\nmemory\t/tmp/x\n"), std::invalid_argument);
  BOOST_CHECK_THROW(decode_cgroup("v1\nmemory\t/sys/fs/cgroup/memory/../../../tmp\n"),
                    std::invalid_argument);
  BOOST_CHECK_THROW(decode_cgroup("v7\n"), std::invalid_argument);
  BOOST_CHECK_THROW(decode_cgroup("v1\nno tab here\n"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(limits_are_written_and_read_back,
                     *boost::unit_test::precondition(cgroups_writable)) {
  scratch_cgroup scratch;
  const auto& task = scratch.task;
  resource_limits limits;
  limits.cpu_shares = 512;
  limits.memory_max_bytes = 64 << 20;
  limits.memory_low_bytes = 32 << 20;
  limits.cpuset_cpus = "0";
  limits.cpu_quota_us = 50000;
  apply_limits(task, limits);
  if (task.version == cgroup_version::v1) {
    BOOST_TEST(read_trimmed(task.dir_of("cpu") + "/cpu.shares") == "512");
    BOOST_TEST(read_trimmed(task.dir_of("cpu") + "/cpu.cfs_quota_us") == "50000");
    BOOST_TEST(read_trimmed(task.dir_of("cpu") + "/cpu.cfs_period_us") == "100000");
    BOOST_TEST(read_trimmed(task.dir_of("memory") + "/memory.limit_in_bytes") ==
               std::to_string(64 << 20));
    BOOST_TEST(read_trimmed(task.dir_of("memory") + "/memory.soft_limit_in_bytes") ==
               std::to_string(32 << 20));
    BOOST_TEST(read_trimmed(task.dir_of("memory") + "/memory.swappiness") == "0");
    BOOST_TEST(read_trimmed(task.dir_of("cpuset") + "/cpuset.cpus") == "0");
  } else {
    const auto dir = task.dir_of("");
    BOOST_TEST(read_trimmed(dir + "/cpu.weight") == std::to_string(cpu_weight_from_shares(512)));
    BOOST_TEST(read_trimmed(dir + "/cpu.max") == "50000 100000");
    BOOST_TEST(read_trimmed(dir + "/memory.max") == std::to_string(64 << 20));
    BOOST_TEST(read_trimmed(dir + "/memory.low") == std::to_string(32 << 20));
  }
  // The record brings the same directories back.
  const auto again = decode_cgroup(encode_cgroup(task));
  BOOST_TEST(to_string(again.version) == to_string(task.version));
  BOOST_CHECK(again.by_controller == task.by_controller);
}

BOOST_AUTO_TEST_CASE(a_spawned_process_and_its_children_join_before_exec,
                     *boost::unit_test::precondition(cgroups_writable)) {
  auto scratch = std::make_unique<scratch_cgroup>();
  const auto leaf = child_cgroup(scratch->task, "pool-0");
  create_cgroup(leaf);
  // The shell forks at once: its child must be counted too.
  auto child = spawn_child(shell("sleep 60 & exec sleep 61", leaf));
  const auto pid = child.ref().pid;
  BOOST_TEST(lists(cgroup_pids(leaf), pid));
  const auto own = read_small_file("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
  BOOST_TEST(
      own.find("/nomad_iis/" +
               std::filesystem::path(scratch->task.unique_dirs().front()).filename().string() +
               "/pool-0") != std::string::npos,
      own);
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (cgroup_pids(scratch->task).size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto members = cgroup_pids(scratch->task);
  BOOST_TEST(members.size() == 2u);

  // Removal kills what runs (the background sleep too) and leaves no directory.
  const auto dirs = scratch->task.unique_dirs();
  const auto left = remove_cgroup(scratch->task, seconds(5));
  BOOST_TEST(left.empty());
  const auto status = child.wait_until(std::chrono::steady_clock::now() + seconds(5));
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(status->signal == SIGKILL);
  for (auto member : members) BOOST_TEST(!running(member), member);
  for (const auto& dir : dirs) BOOST_TEST(!exists(dir), dir);
  scratch.reset();  // removing it again is fine
}

BOOST_AUTO_TEST_CASE(a_running_pid_is_placed, *boost::unit_test::precondition(cgroups_writable)) {
  scratch_cgroup scratch;
  const auto leaf = child_cgroup(scratch.task, "exec");
  create_cgroup(leaf);
  auto child = spawn_child(shell("exec sleep 60", cgroup_dirs{}));
  BOOST_TEST(!lists(cgroup_pids(scratch.task), child.ref().pid));
  place_pid(leaf, child.ref().pid);
  for (const auto& dir : leaf.unique_dirs()) {
    std::istringstream procs(read_small_file(dir + "/cgroup.procs").value_or(""));
    pid_t listed = 0;
    procs >> listed;
    BOOST_TEST(listed == child.ref().pid, dir);
  }
}

BOOST_AUTO_TEST_CASE(a_killed_member_not_yet_reaped_does_not_keep_the_group,
                     *boost::unit_test::precondition(cgroups_writable)) {
  scratch_cgroup scratch;
  const auto leaf = child_cgroup(scratch.task, "pool-0");
  create_cgroup(leaf);
  auto child = spawn_child(shell("exec sleep 60", leaf));
  BOOST_REQUIRE(child.signal(SIGKILL));
  // Its parent (init, for a recovered task's processes) reaps it a moment later.
  std::thread reaper([&child] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    child.wait_until(std::chrono::steady_clock::now() + seconds(5));
  });
  const auto left = remove_cgroup(scratch.task, seconds(5));
  reaper.join();
  BOOST_TEST(left.empty(), join(left));
  for (const auto& dir : scratch.task.unique_dirs()) BOOST_TEST(!std::filesystem::exists(dir), dir);
}

BOOST_AUTO_TEST_CASE(an_oom_kill_over_the_task_limit_is_counted_in_the_leaf,
                     *boost::unit_test::precondition(cgroups_writable)) {
  scratch_cgroup scratch;
  resource_limits limits;
  limits.memory_max_bytes = 32 << 20;
  apply_limits(scratch.task, limits);
  const auto front = child_cgroup(scratch.task, "front");
  const auto pool = child_cgroup(scratch.task, "pool-0");
  create_cgroup(front);
  create_cgroup(pool);
  BOOST_TEST(oom_kill_count(pool) == 0u);
  // 100 MiB written page by page in a 32 MiB task.
  auto child =
      spawn_child(shell("exec python3 -c 'b = bytearray(100 << 20); print(len(b))'", pool));
  const auto status = child.wait_until(std::chrono::steady_clock::now() + seconds(20));
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(status->signal == SIGKILL);
  BOOST_TEST(oom_kill_count(pool) >= 1u);
  BOOST_TEST(oom_kill_count(front) == 0u);
}

/// The cgroup v2 mount, "" when there is none.
std::string v2_mount() {
  std::istringstream mounts(read_small_file("/proc/self/mounts").value_or(""));
  std::string device, point, type, rest;
  while (mounts >> device >> point >> type && std::getline(mounts, rest))
    if (type == "cgroup2") return point;
  return "";
}

boost::test_tools::assertion_result v2_writable(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result result(false);
  if (v2_mount().empty() || ::geteuid() != 0) {
    result.message() << "no cgroup v2 mount, or not root";
    return result;
  }
  return true;
}

// The v2 paths even where v2 has no controllers (this machine binds them
// to v1): leaves below enabled parents, joining before exec, cgroup.kill.
BOOST_AUTO_TEST_CASE(v2_processes_join_and_are_killed_with_the_cgroup,
                     *boost::unit_test::precondition(v2_writable)) {
  cgroup_system system;
  system.version = cgroup_version::v2;
  system.own = {cgroup_version::v2, {{"", v2_mount()}}};
  const auto task = task_cgroup(system, "test-v2-" + std::to_string(::getpid()));
  const auto leaf = child_cgroup(task, "pool-0");
  create_cgroup(leaf);
  auto child = spawn_child(shell("sleep 60 & exec sleep 61", leaf));
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (cgroup_pids(task).size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(cgroup_pids(task).size() == 2u);
  BOOST_TEST(lists(cgroup_pids(leaf), child.ref().pid));
  BOOST_TEST(oom_kill_count(leaf) == 0u);
  BOOST_TEST(remove_cgroup(task, seconds(5)).empty());
  const auto status = child.wait_until(std::chrono::steady_clock::now() + seconds(5));
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(status->signal == SIGKILL);
  BOOST_TEST(!exists(task.dir_of("")));
  ::rmdir((v2_mount() + "/nomad_iis").c_str());  // ours alone; fails while others use it
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
