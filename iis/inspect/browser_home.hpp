#pragma once
// The private directories of one screenshot's browser:
//   $TMPDIR/nomad-iis-shot-XXXXXX/  the plugin's, 0711 (the browser may pass)
//     stderr.log                    the plugin's, the browser's stderr
//     home/                         the browser user's, 0700: HOME and TMPDIR
//       profile/Default/Preferences a fresh profile with our settings
// Everything is created by the plugin before the browser starts and removed
// through descriptors afterwards, never following a link the browser made.

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "common/unique_fd.hpp"

namespace nomad_iis::inspect {

/// The identity the browser runs as (applied only when the plugin is root).
struct run_as {
  uid_t uid = 0;
  gid_t gid = 0;
};

class browser_home {
 public:
  /// Creates the directories for `user` (nullopt: the plugin's own user).
  /// Throws inspect_error internal when it cannot.
  explicit browser_home(const std::optional<run_as>& user);
  ~browser_home();
  browser_home(const browser_home&) = delete;
  browser_home& operator=(const browser_home&) = delete;

  std::string home() const { return path_ + "/home"; }
  std::string profile() const { return path_ + "/home/profile"; }
  std::string tmp() const { return path_ + "/home/tmp"; }
  /// The browser's stderr.
  int stderr_fd() const { return stderr_.get(); }
  /// The last `max` bytes the browser wrote to it.
  std::string stderr_tail(std::size_t max) const;

 private:
  void create_home(const std::optional<run_as>& user);

  unique_fd base_;    ///< $TMPDIR or /tmp
  std::string name_;  ///< our directory's name in it
  std::string path_;
  unique_fd dir_;
  unique_fd stderr_;
};

}  // namespace nomad_iis::inspect
