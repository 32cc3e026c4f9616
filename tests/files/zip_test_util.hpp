#pragma once
// What the files module's zip tests share: extraction fed in chunks of
// several sizes (every archive is tried with each), refusals checked with
// the destination left empty, descriptors counted, and a folder walk like
// the download's.

#include <fcntl.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/beneath.hpp"
#include "common/unique_fd.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/folder_zip_stream.hpp"
#include "iis/files/zip_extractor.hpp"
#include "tests/http/test_util.hpp"

namespace nomad_iis::files::test {

using http::test::count_entries;
using http::test::make_zip;
using http::test::read_file;
using http::test::temp_dir;
using http::test::write_file;

/// 1 byte, 7 bytes, 64 KiB, the whole body at once.
inline const std::vector<std::size_t> chunkings = {1, 7, 64 << 10, 0};

inline std::string chunking_name(std::size_t chunk) {
  return chunk == 0 ? std::string("whole body") : std::to_string(chunk) + "-byte chunks";
}

/// Extracts `archive` (its bytes) into the folder `dest` fed `chunk` bytes
/// at a time (0: all at once).
inline zip_stats extract_bytes(const std::string& archive, const std::string& dest,
                               const zip_limits& limits, std::size_t chunk) {
  const unique_fd dir = open_directory(dest);
  BOOST_REQUIRE(dir);
  zip_extractor x(dir.get(), limits);
  const std::size_t step = chunk == 0 ? std::max<std::size_t>(archive.size(), 1) : chunk;
  for (std::size_t at = 0; at < archive.size(); at += step)
    x.feed(archive.data() + at, std::min(step, archive.size() - at));
  return x.finish();
}

/// Extracts the archive file `zip` into a fresh folder `dest` once per
/// chunking; `check` judges each result.
inline void extract_each_way(const std::string& zip, const std::string& dest,
                             const zip_limits& limits,
                             const std::function<void(const zip_stats&)>& check) {
  const std::string bytes = read_file(zip);
  for (const auto chunk : chunkings) {
    BOOST_TEST_CONTEXT(chunking_name(chunk)) {
      std::filesystem::remove_all(dest);
      std::filesystem::create_directories(dest);
      check(extract_bytes(bytes, dest, limits, chunk));
    }
  }
}

/// Every chunking refuses `zip` with a file_error of `kind` whose message
/// holds `needle`, and leaves `dest` (created empty) empty.
inline void expect_refused(const std::string& zip, const std::string& dest, file_errc kind,
                           const std::string& needle, const zip_limits& limits = {}) {
  const std::string bytes = read_file(zip);
  for (const auto chunk : chunkings) {
    BOOST_TEST_CONTEXT(zip << ", " << chunking_name(chunk)) {
      std::filesystem::remove_all(dest);
      std::filesystem::create_directories(dest);
      try {
        extract_bytes(bytes, dest, limits, chunk);
        BOOST_ERROR("archive accepted");
      } catch (const file_error& e) {
        BOOST_TEST(static_cast<int>(e.kind()) == static_cast<int>(kind), e.what());
        BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos, e.what());
      }
      BOOST_TEST(count_entries(dest) == 0u);
    }
  }
}

/// Descriptors this process has open.
inline std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// The download's walk in small (the real one, walk_folder_files, also
/// leaves out guarded and staging folders): folders with fd -1, regular
/// files opened O_NOFOLLOW, links and other types left out.
inline folder_walk walk_of(int dir_fd) {
  return [dir_fd](const folder_visitor& visit) {
    walk_beneath(dir_fd, [&](const walk_entry& e) {
      if (e.depth == 0) return walk_step::enter;
      if (S_ISDIR(e.st.st_mode)) {
        visit(e.relative, -1, e.st);
        return walk_step::enter;
      }
      if (!S_ISREG(e.st.st_mode)) return walk_step::skip;
      const unique_fd fd(::openat(e.parent_fd, e.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (fd) visit(e.relative, fd.get(), e.st);
      return walk_step::skip;
    });
  };
}

/// The whole zip `stream` produces.
inline std::string drain(folder_zip_stream& stream) {
  std::string all, chunk;
  while (stream.next(chunk)) all += chunk;
  return all;
}

/// Runs a shell command; returns its exit status.
inline int run(const std::string& cmd) {
  return std::system(cmd.c_str());
}

}  // namespace nomad_iis::files::test
