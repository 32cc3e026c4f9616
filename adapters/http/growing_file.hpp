#pragma once
// A file that one thread appends to (the upload body arriving) while another
// reads it as a seekable std::istream (the zip extractor), so extraction
// overlaps the transfer instead of following it.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <streambuf>
#include <vector>

namespace nomad_iis::http {

/// What the writer has appended so far, shared with the reader.
class growing_file {
 public:
  /// Writer: `n` more bytes are in the file.
  void add(std::uint64_t n);
  /// Writer: no more bytes will come.
  void finish();
  /// Reader: gives up (the writer should stop receiving).
  void abort();
  bool aborted() const;
  /// Reader: waits until the file holds more than `pos` bytes or is finished;
  /// returns the size then.
  std::uint64_t wait_beyond(std::uint64_t pos);

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t size_ = 0;
  bool finished_ = false;
  bool aborted_ = false;
};

/// A read-only, seekable streambuf over `fd` that blocks for bytes the
/// writer has not appended yet (EOF only once the file is finished).
class growing_file_buf : public std::streambuf {
 public:
  growing_file_buf(int fd, growing_file& file, std::size_t buffer_size = 1 << 20);

 protected:
  int_type underflow() override;
  pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                   std::ios_base::openmode which) override;
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override;

 private:
  std::uint64_t position() const;

  int fd_;
  growing_file& file_;
  std::vector<char> buf_;
  std::uint64_t base_ = 0;  ///< file offset of eback()
};

}  // namespace nomad_iis::http
