#include "actors/task_files.hpp"

#include <algorithm>
#include <utility>

#include <caf/all.hpp>

#include "actors/blocking.hpp"
#include "actors/task_actor.hpp"
#include "actors/task_queue.hpp"
#include "actors/task_site.hpp"
#include "common/logging.hpp"
#include "iis/files/file_error.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis::task_files {
namespace {

auto log() {
  static auto logger = logging::get("task");
  return logger;
}

caf::error no_transfer() {
  return caf::make_error(ec::invalid_argument, std::string("no such transfer in progress"));
}

/// What a failed step answers: the files module's refusal as it is,
/// anything else as an internal error (logged, not shown).
template <class T>
caf::error error_of(self_ptr self, const job_result<T>& r) {
  std::string why = r.error.message;
  if (r.thrown) {
    try {
      std::rethrow_exception(r.thrown);
    } catch (const files::file_error& e) {
      return to_error(e.failure());
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
    }
  }
  logging::log(*log(), spdlog::level::warn, "a file operation failed",
               {{"task_id", self->state.task.task_id}, {"error", why}});
  return to_error(files::file_failure{files::file_errc::internal, "internal", "internal error"});
}

files::file_target target_of(self_ptr self, const msg::file_target& m) {
  const auto& st = self->state;
  files::file_target t;
  t.task_dir = st.task.task_dir();
  t.secrets_dir =
      st.plan && !st.plan->secrets_dir.empty() ? st.plan->secrets_dir : t.task_dir + "/secrets";
  t.allow_secrets = st.driver.allow_secrets_access;
  t.path = m.path;
  return t;
}

files::upload_options options_of(self_ptr self, const msg::upload_begin& m) {
  const auto& driver = self->state.driver;
  files::upload_options o;
  o.stop_pools = m.stop_pools;
  o.clean = m.clean;
  o.is_zip = m.is_zip;
  if (m.has_length) o.content_length = m.content_length;
  o.max_bytes = driver.upload_max_bytes;
  o.limits = {driver.zip_max_entries, driver.zip_max_uncompressed_bytes, driver.zip_max_ratio};
  return o;
}

/// Releases what `job` holds (a staging folder, a replaced tree, an open
/// folder walk) on a worker: never on the task actor's thread.
template <class Job>
void release_off_thread(self_ptr self, std::shared_ptr<Job> job) {
  if (!job) return;
  off_thread<caf::unit_t>(
      self, self->state.services.file_workers, [job = std::move(job)] { job->release(); },
      [](job_result<caf::unit_t>) {});
}

void drop(self_ptr self, std::uint64_t id) {
  auto& open = self->state.transfers.open;
  auto it = open.find(id);
  if (it == open.end()) return;
  auto t = std::move(it->second);
  open.erase(it);
  release_off_thread(self, std::move(t.upload));
  release_off_thread(self, std::move(t.download));
}

/// drop, then `answer` once what the transfer held is gone: a client that
/// hears of a failure finds nothing of it staged.
template <class Answer>
void drop_then(self_ptr self, std::uint64_t id, Answer answer) {
  auto& open = self->state.transfers.open;
  auto it = open.find(id);
  if (it == open.end()) return answer();
  auto t = std::move(it->second);
  open.erase(it);
  off_thread<caf::unit_t>(
      self, self->state.services.file_workers,
      [upload = std::move(t.upload), download = std::move(t.download)] {
        if (upload) upload->release();
        if (download) download->release();
      },
      [answer = std::move(answer)](job_result<caf::unit_t>) mutable { answer(); });
}

std::uint64_t add(self_ptr self, transfer t) {
  const auto owner = caf::actor_cast<caf::actor>(t.owner);
  const auto id = ++self->state.transfers.next_id;
  self->state.transfers.open.emplace(id, std::move(t));
  if (owner) self->monitor(owner);
  return id;
}

/// The most a download block may ask for.
constexpr std::uint64_t max_block = 4 << 20;

/// The transfer `id` of the current sender, if no step of it runs.
transfer* idle_transfer(self_ptr self, std::uint64_t id) {
  auto& open = self->state.transfers.open;
  auto it = open.find(id);
  if (it == open.end() || it->second.busy) return nullptr;
  if (it->second.owner != caf::actor_cast<caf::actor_addr>(self->current_sender())) return nullptr;
  return &it->second;
}

/// Runs `work` of transfer `id` on a file worker, then `then(value)`. A
/// step that fails answers `rp` with its error; the transfer is released
/// then, and also when its owner went while the step ran.
template <class T, class Work, class Then>
void step(self_ptr self, std::uint64_t id, caf::response_promise rp, Work work, Then then) {
  self->state.transfers.open.at(id).busy = true;
  off_thread<T>(self, self->state.services.file_workers, std::move(work),
                [self, id, rp, then = std::move(then)](job_result<T> r) mutable {
                  auto& open = self->state.transfers.open;
                  auto it = open.find(id);
                  if (it == open.end()) return;  // released meanwhile (the task ends)
                  it->second.busy = false;
                  if (it->second.abandoned) return drop(self, id);
                  if (!r.ok()) {
                    return drop_then(self, id,
                                     [rp, err = error_of(self, r)]() mutable { rp.deliver(err); });
                  }
                  then(std::move(*r.value));
                });
}

/// The pools running now that serve files at or below `path`.
std::vector<std::string> serving_pools(self_ptr self, const std::string& path) {
  const auto& st = self->state;
  std::vector<std::string> out;
  if (st.phase != task_phase::running) return out;
  const auto serving = site::pools_serving(*st.plan, path);
  for (const auto& pool : st.pool_views) {
    const auto& name = st.plan->pools[pool.pool].name;
    const bool running =
        pool.status == iis::pool_status::started || pool.status == iis::pool_status::starting;
    if (running && std::find(serving.begin(), serving.end(), name) != serving.end())
      out.push_back(name);
  }
  return out;
}

using change_done = std::function<void(caf::error, std::vector<std::string> stopped)>;

/// One change of the task dir as one of the task's operations: the pools
/// serving `path` stop first (`stop_pools`), `apply` runs on a file worker,
/// the pools' users get their rights on what it made and the stopped pools
/// start again; then `done` with the pools it stopped or the first failure.
void run_change(self_ptr self, std::string path, bool stop_pools, std::function<void()> apply,
                change_done done) {
  task_queue::enqueue(self, [self, path = std::move(path), stop_pools, apply = std::move(apply),
                             done = std::move(done)]() mutable {
    if (!self->state.plan) return done(no_site_error(), {});
    auto to_stop = stop_pools ? serving_pools(self, path) : std::vector<std::string>{};
    auto failed = std::make_shared<caf::error>();
    task_queue::run_op(
        self,
        [self, to_stop, apply = std::move(apply), failed](site::done_fn finished) mutable {
          auto swap = [self, to_stop, apply = std::move(apply), failed, finished]() mutable {
            off_thread<caf::unit_t>(
                self, self->state.services.file_workers, std::move(apply),
                [self, to_stop, failed, finished](job_result<caf::unit_t> r) {
                  if (!r.ok()) *failed = error_of(self, r);
                  // Rights on the new files before the pools start again.
                  site::refresh_access(self, [self, to_stop, finished] {
                    if (to_stop.empty() || self->state.phase != task_phase::running)
                      return finished(std::nullopt);
                    site::run_on_pools(self, msg::pool_op::start, site::pool_indices(self, to_stop),
                                       false, finished);
                  });
                });
          };
          if (to_stop.empty()) return swap();
          site::run_on_pools(self, msg::pool_op::stop, site::pool_indices(self, to_stop), false,
                             [failed, finished, swap](std::optional<iis::failure> error) mutable {
                               if (!error) return swap();
                               *failed = to_error(*error, "stopping the pools failed: ");
                               finished(std::nullopt);
                             });
        },
        [to_stop, failed, done = std::move(done)](std::optional<iis::failure> error) {
          if (*failed) return done(*failed, {});
          if (error) return done(to_error(*error, "restarting the pools failed: "), {});
          done({}, to_stop);
        });
  });
}

/// Removes what the change left (the replaced tree, the staging folder) on
/// a worker, then answers: when the client hears "done", the old content
/// is gone.
template <class Job, class Answer>
void clean_up_then(self_ptr self, std::shared_ptr<Job> job, Answer answer) {
  off_thread<caf::unit_t>(
      self, self->state.services.file_workers, [job] { job->release(); },
      [answer = std::move(answer)](job_result<caf::unit_t>) mutable { answer(); });
}

}  // namespace

caf::result<msg::transfer_id> begin_upload(self_ptr self, msg::upload_begin& m) {
  if (!self->state.plan) return no_site_error();
  auto options = options_of(self, m);
  if (options.content_length && *options.content_length > options.max_bytes)  // before a byte
    return to_error(files::too_large(
                        "upload_too_large",
                        "the upload is larger than " + std::to_string(options.max_bytes) + " bytes")
                        .failure());
  transfer t;
  t.owner = caf::actor_cast<caf::actor_addr>(self->current_sender());
  t.upload = std::make_shared<files::upload_job>(target_of(self, m.target), std::move(options));
  auto job = t.upload;
  const auto id = add(self, std::move(t));
  auto rp = self->make_response_promise();
  step<caf::unit_t>(
      self, id, rp, [job] { job->prepare(); },
      [rp, id](caf::unit_t) mutable { rp.deliver(msg::transfer_id{id}); });
  return rp;
}

caf::result<void> write_block(self_ptr self, msg::upload_block& m) {
  auto* t = idle_transfer(self, m.id);
  if (!t || !t->upload) return no_transfer();
  auto rp = self->make_response_promise();
  step<caf::unit_t>(
      self, m.id, rp, [job = t->upload, bytes = std::move(m.bytes)] { job->write(bytes); },
      [rp](caf::unit_t) mutable { rp.deliver(caf::unit); });
  return rp;
}

caf::result<msg::upload_done> end_upload(self_ptr self, msg::upload_end& m) {
  auto* t = idle_transfer(self, m.id);
  if (!t || !t->upload) return no_transfer();
  auto job = t->upload;
  auto rp = self->make_response_promise();
  // Once its body checks out it is the task's: a sender that goes after
  // that no longer cancels it (one that goes before leaves nothing).
  step<caf::unit_t>(
      self, m.id, rp, [job] { job->finish(); },
      [self, rp, job, id = m.id](caf::unit_t) mutable {
        self->state.transfers.open.erase(id);
        run_change(
            self, job->change_path(), job->stops_pools(), [job] { job->swap(); },
            [self, rp, job](caf::error err, std::vector<std::string> stopped) mutable {
              auto outcome = job->outcome();
              clean_up_then(self, job, [rp, err, outcome, stopped]() mutable {
                if (err)
                  rp.deliver(err);
                else
                  rp.deliver(
                      msg::upload_done{outcome.bytes_received, outcome.files, std::move(stopped)});
              });
            });
      });
  return rp;
}

caf::result<void> remove(self_ptr self, msg::delete_path& m) {
  if (!self->state.plan) return no_site_error();
  auto job = std::make_shared<files::delete_job>(target_of(self, m.target));
  auto rp = self->make_response_promise();
  off_thread<caf::unit_t>(
      self, self->state.services.file_workers, [job] { job->prepare(); },
      [self, rp, job](job_result<caf::unit_t> r) mutable {
        if (!r.ok()) {
          rp.deliver(error_of(self, r));
          return release_off_thread(self, job);
        }
        run_change(
            self, job->change_path(), false, [job] { job->apply(); },
            [self, rp, job](caf::error err, std::vector<std::string>) mutable {
              clean_up_then(self, job, [rp, err]() mutable {
                if (err)
                  rp.deliver(err);
                else
                  rp.deliver(caf::unit);
              });
            });
      });
  return rp;
}

caf::result<msg::download_started> begin_download(self_ptr self, msg::download_begin& m) {
  if (!self->state.plan) return no_site_error();
  auto owner = caf::actor_cast<caf::actor_addr>(self->current_sender());  // before the promise
  auto rp = self->make_response_promise();                                // takes the sender
  open_download(
      self, owner,
      std::make_shared<files::download_job>(target_of(self, m.target), self->state.task.task_name),
      rp);
  return rp;
}

caf::result<msg::folder_listing> list(self_ptr self, msg::list_folder& m) {
  if (!self->state.plan) return no_site_error();
  auto rp = self->make_response_promise<msg::folder_listing>();
  off_thread<files::folder_listing>(
      self, self->state.services.file_workers,
      [target = target_of(self, m.target)] { return files::list_folder(target); },
      [self, rp](job_result<files::folder_listing> r) mutable {
        if (!r.ok()) {
          rp.deliver(error_of(self, r));
          return;
        }
        msg::folder_listing out{std::move(r.value->path), {}};
        for (auto& e : r.value->entries)
          out.entries.push_back({std::move(e.name), std::move(e.type), e.size, e.modified});
        rp.deliver(std::move(out));
      });
  return rp;
}

void open_download(self_ptr self, const caf::actor_addr& owner,
                   std::shared_ptr<files::download_job> job, caf::response_promise rp) {
  if (!caf::actor_cast<caf::actor>(owner)) {  // nobody to read it
    release_off_thread(self, std::move(job));
    rp.deliver(caf::make_error(ec::operation_failed, "the requester is gone"));
    return;
  }
  transfer t;
  t.owner = owner;
  t.download = job;
  const auto id = add(self, std::move(t));
  step<files::download_head>(
      self, id, rp, [job] { return job->open(); },
      [rp, id](files::download_head head) mutable {
        rp.deliver(msg::download_started{id, head.is_zip, head.filename, head.length.has_value(),
                                         head.length.value_or(0)});
      });
}

caf::result<msg::file_block> next_block(self_ptr self, msg::download_next& m) {
  auto* t = idle_transfer(self, m.id);
  if (!t || !t->download) return no_transfer();
  auto rp = self->make_response_promise();
  step<std::string>(
      self, m.id, rp,
      [job = t->download, max = static_cast<std::size_t>(std::min(m.max, max_block))] {
        return job->next_block(max);
      },
      [self, rp, id = m.id](std::string block) mutable {
        if (block.empty()) drop(self, id);  // the end: nothing more to read
        rp.deliver(msg::file_block{std::move(block)});
      });
  return rp;
}

void owner_gone(self_ptr self, const caf::actor_addr& owner) {
  std::vector<std::uint64_t> gone;
  for (auto& [id, t] : self->state.transfers.open) {
    if (t.owner != owner) continue;
    if (t.busy)
      t.abandoned = true;  // released when its step comes back
    else
      gone.push_back(id);
  }
  for (auto id : gone) drop(self, id);
}

void release_all(self_ptr self) {
  auto& open = self->state.transfers.open;
  for (auto& [id, t] : open) {
    if (t.busy) continue;  // its step holds it, and ends it on its worker
    release_off_thread(self, std::move(t.upload));
    release_off_thread(self, std::move(t.download));
  }
  open.clear();
}

}  // namespace nomad_iis::task_files
