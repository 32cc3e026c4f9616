#include "actors/fingerprinter.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/timeouts.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

using state_ptr = caf::stateful_actor<fingerprinter_state>*;

msg::fingerprint_attribute string_attr(std::string value) {
  msg::fingerprint_attribute a;
  a.what = msg::fingerprint_attribute::kind::string_value;
  a.string_value = std::move(value);
  return a;
}

msg::fingerprint_attribute bool_attr(bool value) {
  msg::fingerprint_attribute a;
  a.what = msg::fingerprint_attribute::kind::bool_value;
  a.bool_value = value;
  return a;
}

msg::fingerprint_attribute int_attr(std::int64_t value) {
  msg::fingerprint_attribute a;
  a.what = msg::fingerprint_attribute::kind::int_value;
  a.int_value = value;
  return a;
}

/// "nginx/1.22.1" -> "1.22.1"
std::string version_number(const std::string& version) {
  auto slash = version.find('/');
  return slash == std::string::npos ? version : version.substr(slash + 1);
}

void broadcast(state_ptr self) {
  if (!self->state.last_probe) return;
  auto fp = make_fingerprint(self->state.driver, self->state.api, *self->state.last_probe);
  for (const auto& subscriber : self->state.subscribers) self->send(subscriber, fp);
}

void probe(state_ptr self) {
  if (self->state.probing) return;
  self->state.probing = true;
  // It runs nginx: a blocking worker does it.
  off_thread<iis::backend_info>(
      self, self->state.workers,
      [backend = self->state.backend, path = self->state.driver.nginx_path] {
        return backend->probe(path);
      },
      [self](job_result<iis::backend_info> probed) {
        iis::backend_info info;
        if (probed.ok()) {
          info = *probed.value;
        } else {
          info.reason = probed.error.message;
        }
        self->send(self, msg::probe_result{info.healthy, info.version, info.reason,
                                           info.cgroup_version, info.cgroup_mountpoint});
      });
}

void schedule_tick(state_ptr self) {
  auto interval = std::max<config::duration>(self->state.driver.fingerprint_interval,
                                             timeouts::min_fingerprint_interval);
  self->delayed_send(self, interval, atom::tick_v, self->state.tick_generation);
}

}  // namespace

msg::fingerprint make_fingerprint(const config::driver_config& driver, const msg::api_status& api,
                                  const msg::probe_result& probe) {
  msg::fingerprint fp;
  fp.attributes["driver.iis.version"] = string_attr(NOMAD_IIS_VERSION);
  fp.attributes["driver.iis.web_server"] = string_attr("nginx");
  if (!probe.version.empty())
    fp.attributes["driver.iis.nginx_version"] = string_attr(version_number(probe.version));
  fp.attributes["driver.iis.directory_security_enabled"] = bool_attr(driver.directory_security);
  fp.attributes["driver.iis.target_websites_enabled"] =
      bool_attr(!driver.allowed_target_websites.empty());
  // Nomad's own os.cgroups.version ("1", "2") for the cgroups the driver
  // uses, which on a hybrid machine may differ from the client's.
  fp.attributes["driver.iis.resource_limits_enabled"] = bool_attr(!probe.cgroup_version.empty());
  if (!probe.cgroup_version.empty()) {
    fp.attributes["driver.iis.cgroups.version"] = string_attr(probe.cgroup_version.substr(1));
    fp.attributes["driver.iis.cgroups.mountpoint"] = string_attr(probe.cgroup_mountpoint);
  }
  if (api.management_api_enabled) {
    fp.attributes["driver.iis.management_api_enabled"] = bool_attr(true);
    fp.attributes["driver.iis.management_api_port"] = int_attr(api.management_api_port);
  }
  if (!driver.enabled) {
    fp.health = msg::health::undetected;
    fp.description = "Driver disabled by the plugin config (enabled = false)";
  } else if (!probe.healthy) {
    fp.health = msg::health::unhealthy;
    fp.description = probe.reason.empty() ? "the web server does not work" : probe.reason;
  } else {
    fp.health = msg::health::healthy;
    fp.description = "Healthy";
  }
  return fp;
}

caf::behavior fingerprinter(caf::stateful_actor<fingerprinter_state>* self,
                            std::shared_ptr<iis::backend> backend, caf::actor workers) {
  self->state.backend = std::move(backend);
  self->state.workers = std::move(workers);
  self->set_down_handler([self](const caf::down_msg& down) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& x) { return x.address() == down.source; }),
               subs.end());
  });
  return {
      [self](atom::subscribe, caf::actor subscriber) {
        self->monitor(subscriber);
        if (self->state.last_probe) {
          self->send(subscriber, make_fingerprint(self->state.driver, self->state.api,
                                                  *self->state.last_probe));
        } else {
          probe(self);
        }
        if (self->state.subscribers.empty()) {
          ++self->state.tick_generation;  // an older tick chain, if any, stops here
          schedule_tick(self);
        }
        self->state.subscribers.push_back(std::move(subscriber));
      },
      [self](atom::unsubscribe, const caf::actor& subscriber) {
        auto& subs = self->state.subscribers;
        subs.erase(std::remove(subs.begin(), subs.end(), subscriber), subs.end());
      },
      [self](const msg::set_driver_config& cfg) {
        bool interval_changed =
            cfg.driver.fingerprint_interval != self->state.driver.fingerprint_interval;
        self->state.driver = cfg.driver;
        if (interval_changed && !self->state.subscribers.empty()) {
          ++self->state.tick_generation;
          schedule_tick(self);
        }
        broadcast(self);
      },
      [self](const msg::api_status& api) {
        self->state.api = api;
        broadcast(self);
      },
      [self](atom::tick, std::uint64_t generation) {
        if (generation != self->state.tick_generation || self->state.subscribers.empty()) return;
        probe(self);
        schedule_tick(self);
      },
      [self](const msg::probe_result& result) {
        self->state.probing = false;
        self->state.last_probe = result;
        broadcast(self);
      },
      [self](atom::get) -> caf::result<msg::fingerprint> {
        if (!self->state.last_probe) return msg::fingerprint{};
        return make_fingerprint(self->state.driver, self->state.api, *self->state.last_probe);
      },
  };
}

}  // namespace nomad_iis
