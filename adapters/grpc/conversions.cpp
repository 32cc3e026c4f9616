#include "adapters/grpc/conversions.hpp"

#include <chrono>

#include <google/protobuf/timestamp.pb.h>

namespace nomad_iis::grpc_adapter {
namespace {

/// Go's zero time (0001-01-01T00:00:00Z): what Nomad expects for "not yet".
constexpr std::int64_t go_zero_time_seconds = -62135596800;

void set_time(google::protobuf::Timestamp* out, caf::timestamp t) {
  if (t == caf::timestamp{}) {
    out->set_seconds(go_zero_time_seconds);
    out->set_nanos(0);
    return;
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<std::int32_t>(ns % 1000000000));
}

void fill_usage(drivers::TaskResourceUsage* out, const msg::resource_usage& u) {
  auto* cpu = out->mutable_cpu();
  cpu->set_user_mode(u.user_percent);
  cpu->set_system_mode(u.system_percent);
  cpu->set_percent(u.percent);
  cpu->set_total_ticks(u.total_ticks);
  for (auto f : {drivers::CPUUsage::SYSTEM_MODE, drivers::CPUUsage::USER_MODE,
                 drivers::CPUUsage::TOTAL_TICKS, drivers::CPUUsage::PERCENT})
    cpu->add_measured_fields(f);
  auto* mem = out->mutable_memory();
  mem->set_rss(u.rss_bytes);
  mem->add_measured_fields(drivers::MemoryUsage::RSS);
}

constexpr std::int64_t mib = 1024 * 1024;

/// Nomad's resources as the exec driver applies them: with memory_max above
/// memory (oversubscription), memory_max is the hard limit and memory the
/// soft one; else memory is the hard limit.
iis::resource_limits limits_of(const drivers::Resources& resources) {
  const auto& allocated = resources.allocated_resources();
  const auto& linux_resources = resources.linux_resources();
  iis::resource_limits limits;
  limits.cpu_shares = allocated.cpu().cpu_shares() > 0 ? allocated.cpu().cpu_shares()
                                                       : linux_resources.cpu_shares();
  const auto memory = allocated.memory().memory_mb();
  const auto memory_max = allocated.memory().memory_max_mb();
  if (memory > 0 && memory_max > memory) {
    limits.memory_max_bytes = memory_max * mib;
    limits.memory_low_bytes = memory * mib;
  } else if (memory > 0) {
    limits.memory_max_bytes = memory * mib;
  } else {
    limits.memory_max_bytes = linux_resources.memory_limit_bytes();
  }
  limits.cpuset_cpus = linux_resources.cpuset_cpus();
  return limits;
}

}  // namespace

iis::task_context to_context(const drivers::TaskConfig& config) {
  iis::task_context ctx;
  ctx.task_id = config.id();
  ctx.alloc_id = config.alloc_id();
  ctx.task_name = config.name();
  ctx.job_name = config.job_name();
  ctx.job_id = config.job_id();
  ctx.namespace_name = config.namespace_();
  ctx.group_name = config.task_group_name();
  ctx.alloc_dir = config.alloc_dir();
  ctx.stdout_path = config.stdout_path();
  ctx.stderr_path = config.stderr_path();
  ctx.user = config.user();
  ctx.env.insert(config.env().begin(), config.env().end());
  ctx.resources = limits_of(config.resources());
  for (const auto& p : config.resources().ports())
    ctx.ports.push_back({p.label(), p.value(), p.to(), p.host_ip()});
  // Old jobs with a task-level network: their ports come in allocated_resources.
  for (const auto& net : config.resources().allocated_resources().networks()) {
    for (const auto* list : {&net.reserved_ports(), &net.dynamic_ports()})
      for (const auto& p : *list) ctx.ports.push_back({p.label(), p.value(), 0, net.ip()});
  }
  return ctx;
}

void fill(drivers::ExitResult* out, const msg::exit_result& result) {
  out->set_exit_code(result.exit_code);
  out->set_signal(result.signal);
  out->set_oom_killed(result.oom_killed);
}

void fill(drivers::TaskStatus* out, const msg::task_status& status) {
  out->set_id(status.id);
  out->set_name(status.name);
  switch (status.state) {
    case msg::task_state::running:
      out->set_state(drivers::RUNNING);
      break;
    case msg::task_state::exited:
      out->set_state(drivers::EXITED);
      break;
    default:
      out->set_state(drivers::UNKNOWN);
      break;
  }
  set_time(out->mutable_started_at(), status.started_at);
  set_time(out->mutable_completed_at(), status.completed_at);
  fill(out->mutable_result(), status.result);
}

void fill(drivers::TaskStats* out, const msg::task_stats& stats) {
  out->set_id(stats.task_id);
  set_time(out->mutable_timestamp(),
           stats.timestamp == caf::timestamp{} ? caf::make_timestamp() : stats.timestamp);
  fill_usage(out->mutable_agg_resource_usage(), stats.total);
  for (const auto& [pid, usage] : stats.by_pid)
    fill_usage(&(*out->mutable_resource_usage_by_pid())[std::to_string(pid)], usage);
}

drivers::FingerprintResponse to_proto(const msg::fingerprint& fp) {
  drivers::FingerprintResponse out;
  for (const auto& [key, attr] : fp.attributes) {
    auto& a = (*out.mutable_attributes())[key];
    switch (attr.what) {
      case msg::fingerprint_attribute::kind::string_value:
        a.set_string_val(attr.string_value);
        break;
      case msg::fingerprint_attribute::kind::int_value:
        a.set_int_val(attr.int_value);
        break;
      case msg::fingerprint_attribute::kind::bool_value:
        a.set_bool_val(attr.bool_value);
        break;
    }
  }
  switch (fp.health) {
    case msg::health::healthy:
      out.set_health(drivers::FingerprintResponse::HEALTHY);
      break;
    case msg::health::unhealthy:
      out.set_health(drivers::FingerprintResponse::UNHEALTHY);
      break;
    default:
      out.set_health(drivers::FingerprintResponse::UNDETECTED);
      break;
  }
  out.set_health_description(fp.description);
  return out;
}

drivers::DriverTaskEvent to_proto(const msg::task_event& event) {
  drivers::DriverTaskEvent out;
  out.set_task_id(event.task_id);
  out.set_alloc_id(event.alloc_id);
  out.set_task_name(event.task_name);
  set_time(out.mutable_timestamp(), event.timestamp);
  out.set_message(event.message);
  out.mutable_annotations()->insert(event.annotations.begin(), event.annotations.end());
  return out;
}

}  // namespace nomad_iis::grpc_adapter
