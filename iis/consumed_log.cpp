#include "iis/consumed_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace nomad_iis::iis {

std::string read_log_at(int fd, std::uint64_t offset, std::size_t length) {
  std::string bytes(length, '\0');
  std::size_t got = 0;
  while (got < length) {
    const auto n = ::pread(fd, bytes.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

void free_consumed(int fd, std::uint64_t consumed) {
  constexpr off_t page = 4096;
  const off_t whole_pages = static_cast<off_t>(consumed) / page * page;
  if (whole_pages > 0)
    (void)::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, whole_pages);
}

}  // namespace nomad_iis::iis
