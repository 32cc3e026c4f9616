#pragma once
// Unix users the plugin creates for itself: one per ApplicationPoolIdentity
// pool (so tasks cannot touch each other's files) and one for the browser
// that takes screenshots. Each is a system user with a group of its own, no
// home and no login, marked by its comment so we only ever remove our own.
// These calls run useradd/userdel and wait: call them off actor threads.

#include <sys/types.h>

#include <string>
#include <vector>

#include "iis/model.hpp"
#include "iis/process.hpp"

namespace nomad_iis::iis {

/// The UIDs our users take (inclusive). Below Nomad's default range for
/// dynamic workload users (80000-89999), above Debian's regular users.
struct uid_range {
  uid_t first = 71000;
  uid_t last = 79999;
};

/// The comment that marks a user as ours, naming what it is for.
std::string managed_user_comment(const std::string& purpose);

/// "iis-" and 12 hex digits of a hash of the allocation, task and pool: the
/// same pool always gets the same name, different pools practically never.
std::string pool_user_name(const std::string& alloc_id, const std::string& task_name,
                           const std::string& pool_name);

/// The account `name`: created when missing (useradd --system, UID from
/// `range`, none in use by an account or a running process), kept when it
/// exists with exactly `comment`. Throws std::runtime_error when it belongs
/// to someone else (another comment) or cannot be created.
unix_account ensure_managed_user(const std::string& name, const std::string& comment,
                                 uid_range range = {});

/// Removes `name` and its group when its comment is `comment` (another
/// user of that name is left alone). False when ours stays (userdel refuses
/// while a process of it runs).
bool remove_managed_user(const std::string& name, const std::string& comment);

/// Makes the accounts of the plan's pools that are the driver's own
/// (pool_plan::managed_user_comment); the others are left as they are.
void ensure_pool_users(const site_plan& plan);

/// Removes those accounts once no process of theirs runs; the names of the
/// ones that stayed.
std::vector<std::string> remove_pool_users(const site_plan& plan);

}  // namespace nomad_iis::iis
