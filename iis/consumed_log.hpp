#pragma once
// A log the front appends to and the plugin reads on from an offset, then
// frees what it consumed (the request log, the open-requests log): the two
// file steps both readers share.

#include <cstddef>
#include <cstdint>
#include <string>

namespace nomad_iis::iis {

/// Up to `length` bytes of `fd` from `offset` (fewer at its end).
std::string read_log_at(int fd, std::uint64_t offset, std::size_t length);

/// Punches out the whole pages before `consumed` (best effort: a file system
/// without hole punching keeps them); the file's size stays, so nginx's
/// appends go on where they were.
void free_consumed(int fd, std::uint64_t consumed);

}  // namespace nomad_iis::iis
