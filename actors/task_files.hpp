#pragma once
// The task actor's file operations (the Management API's uploads, deletes
// and downloads on the task directory). The task runs each step of a
// transfer (iis/files/transfer.hpp) on its file workers, never on its own
// thread, and applies a change in its order of operations: it stops the
// pools serving the path (PUT), swaps or removes, gives the pools their
// rights on what changed and starts them again, while a recycle, a StopTask
// or another change on the task wait their turn. Bodies and blocks arrive
// and leave as messages; a transfer whose sender is gone is released.

#include <cstdint>
#include <map>
#include <memory>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/result.hpp>

#include "iis/files/transfer.hpp"
#include "messages/files.hpp"

namespace nomad_iis {

struct task_actor_state;

namespace task_files {

/// An upload or download in progress.
struct transfer {
  caf::actor_addr owner;  ///< the actor that opened it (monitored)
  std::shared_ptr<files::upload_job> upload;
  std::shared_ptr<files::download_job> download;
  bool busy = false;       ///< a step runs on a worker
  bool abandoned = false;  ///< its owner went while a step ran
};

/// The open transfers of a task actor (in its state).
struct transfers {
  std::map<std::uint64_t, transfer> open;
  std::uint64_t next_id = 0;
};

using self_ptr = caf::stateful_actor<task_actor_state>*;

caf::result<msg::transfer_id> begin_upload(self_ptr self, msg::upload_begin& m);
caf::result<void> write_block(self_ptr self, msg::upload_block& m);
caf::result<msg::upload_done> end_upload(self_ptr self, msg::upload_end& m);
caf::result<void> remove(self_ptr self, msg::delete_path& m);
caf::result<msg::download_started> begin_download(self_ptr self, msg::download_begin& m);
caf::result<msg::file_block> next_block(self_ptr self, msg::download_next& m);
/// A folder's entries, read on a file worker (no transfer, no change).
caf::result<msg::folder_listing> list(self_ptr self, msg::list_folder& m);

/// Opens `job` as a download read by `owner` (download_next), answering
/// `rp` with what it sends: also for files the task made itself (a dump).
void open_download(self_ptr self, const caf::actor_addr& owner,
                   std::shared_ptr<files::download_job> job, caf::response_promise rp);

/// The actor `owner` is gone: its transfers are released on a worker.
void owner_gone(self_ptr self, const caf::actor_addr& owner);

/// The task actor ends: every transfer is released on a worker.
void release_all(self_ptr self);

}  // namespace task_files
}  // namespace nomad_iis
