// The file operations' descriptor steps while another thread swaps a folder
// of the task with a symlink to a folder outside it (renameat2
// RENAME_EXCHANGE in a loop, as a hostile app does): nothing outside is
// read, changed or left behind.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "common/beneath.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/remove.hpp"
#include "iis/files/staged_upload.hpp"
#include "iis/files/swap.hpp"
#include "iis/files/task_tree.hpp"
#include "tests/http/test_util.hpp"

using namespace nomad_iis::files;
using namespace nomad_iis::http::test;
using nomad_iis::open_directory;
using nomad_iis::unique_fd;

namespace {

const std::string marker = "OUTSIDE-MARKER";

/// Every entry below `dir` with its content (links as "->target").
std::map<std::string, std::string> tree_of(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (auto it = std::filesystem::recursive_directory_iterator(dir);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    auto rel = std::filesystem::relative(it->path(), dir).string();
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    out[rel] = std::to_string(st.st_mode) + " " +
               (S_ISREG(st.st_mode) ? read_file(it->path().string()) : std::string());
  }
  return out;
}

std::string read_fd(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
  return s;
}

/// Swaps local/race and local/alt until stopped; refills the folder
/// through its own descriptor.
class flipper {
 public:
  explicit flipper(const std::string& local) : local_(open_directory(local)) {
    race_ = unique_fd(::openat(local_.get(), "race", O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    thread_ = std::thread([this] { run(); });
  }
  ~flipper() {
    stop_ = true;
    thread_.join();
  }
  long flips() const { return flips_; }

 private:
  void run() {
    while (!stop_) {
      ::renameat2(local_.get(), "race", local_.get(), "alt", RENAME_EXCHANGE);
      if (++flips_ % 16 == 0) refill();
    }
  }
  void refill() {
    unique_fd f(::openat(race_.get(), "f.txt", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644));
    if (f) (void)!::write(f.get(), "inside", 6);
    ::mkdirat(race_.get(), "sub", 0755);
  }
  unique_fd local_, race_;
  std::atomic<bool> stop_{false};
  std::atomic<long> flips_{0};
  std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(path_races)

BOOST_AUTO_TEST_CASE(flipping_a_folder_and_a_link_never_leads_outside) {
  temp_dir t;
  write_file(t / "outside/f.txt", marker);
  write_file(t / "outside/sub/x", marker);
  write_file(t / "outside/victim", marker);
  write_file(t / "task/local/race/f.txt", "inside");
  write_file(t / "task/local/race/sub/x", "inside");
  BOOST_REQUIRE(::symlink((t / "outside").c_str(), (t / "task/local/alt").c_str()) == 0);
  const auto before = tree_of(t / "outside");
  std::map<std::string, int> ok;
  {
    flipper flip(t / "task/local");
    for (int i = 0; i < 4000; ++i) {
      const task_root root(t / "task", "secrets", false);
      try {
        switch (i % 5) {
          case 0: {  // GET of a file
            auto r = resolve_path(root, "local/race/f.txt");
            auto fd = open_regular_file(r.target(), r.relative);
            BOOST_REQUIRE(read_fd(fd.get()).find(marker) == std::string::npos);
            break;
          }
          case 1: {  // GET of a folder
            auto r = resolve_path(root, "local/race");
            if (!r.is_dir()) break;
            auto dir = open_folder(r.target());
            walk_folder_files(dir.get(), &root, [&](std::string_view, int fd, const struct stat&) {
              if (fd >= 0) BOOST_REQUIRE(read_fd(fd).find(marker) == std::string::npos);
            });
            break;
          }
          case 2: {  // DELETE: the entry moves into staging by descriptor
            auto r = resolve_path(root, "local/race/f.txt");
            if (!r.exists()) break;
            pending_delete removal(r, false);
            removal.apply();
            break;
          }
          case 3: {  // PATCH of a zip: staged beside the target, merged, exchanged into place
            auto r = resolve_path(root, "local/race/sub");
            check_upload_target(r, true);
            const auto& dest = r.target();
            staging_dir staging(dest.dir.get());
            auto staged = staging.make_dir(staged_name, 0755);
            ::close(::openat(staged.get(), "x", O_CREAT | O_WRONLY, 0644));
            apply_ownership(staging.fd(), staged_name, upload_ownership(dest, true));
            place_upload(root, dest, staging, true, false);
            break;
          }
          default: {  // emptying a folder
            auto r = resolve_path(root, "local/race/sub");
            if (!r.is_dir()) break;
            pending_delete removal(r, true);
            removal.apply();
          }
        }
        ++ok[std::to_string(i % 5)];
      } catch (const file_error& e) {  // refused (a 4xx), never a failure (5xx)
        BOOST_REQUIRE_MESSAGE(e.kind() != file_errc::internal && e.kind() != file_errc::no_space,
                              e.what());
      }
    }
    BOOST_TEST_MESSAGE("flips: " << flip.flips());
  }
  for (int k = 0; k < 5; ++k) BOOST_TEST(ok[std::to_string(k)] > 0, "operation " << k);
  BOOST_TEST((tree_of(t / "outside") == before));
  for (auto& e : std::filesystem::recursive_directory_iterator(t.path)) {
    BOOST_TEST(e.path().filename().string().rfind(".nomad-iis-staging-", 0) != 0u,
               e.path().string());
  }
}

BOOST_AUTO_TEST_SUITE_END()
