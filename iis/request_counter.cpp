#include "iis/request_counter.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "common/unique_fd.hpp"
#include "iis/consumed_log.hpp"
#include "iis/site_files.hpp"
#include "iis/site_layout.hpp"

namespace nomad_iis::iis {
namespace {

/// At most this much of the log per count, so one call stays short; the
/// rest waits for the next.
constexpr std::size_t max_read = 16u << 20;

request_totals load_totals(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  try {
    return decode_request_totals(text);
  } catch (const std::invalid_argument&) {
    return {};  // torn or foreign: counting starts again
  }
}

}  // namespace

request_totals count_requests(const std::string& data_dir) {
  const auto totals_path = layout::request_totals_file(data_dir);
  auto totals = load_totals(totals_path);
  const unique_fd log(
      ::open(layout::requests_log(data_dir).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!log) return totals;
  struct stat st {};
  if (::fstat(log.get(), &st) != 0 || !S_ISREG(st.st_mode)) return totals;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < totals.offset) totals.offset = 0;
  if (size == totals.offset) return totals;
  const auto length =
      static_cast<std::size_t>(std::min<std::uint64_t>(size - totals.offset, max_read));
  const auto bytes = read_log_at(log.get(), totals.offset, length);
  const auto used = tally_requests(bytes, totals);
  if (used == 0) return totals;
  totals.offset += used;
  write_file_atomic(totals_path, encode_request_totals(totals));
  // Counted bytes are kept only as totals; their blocks go.
  free_consumed(log.get(), totals.offset);
  return totals;
}

}  // namespace nomad_iis::iis
