#include "adapters/http/download.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <streambuf>
#include <vector>

#include <Poco/DateTime.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <Poco/Zip/Compress.h>
#include <Poco/Zip/ZipCommon.h>

#include "adapters/http/http_error.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::size_t io_buffer = 1 << 20;

/// Collects small writes into 1 MiB blocks before they reach the (chunked)
/// response stream: fewer chunks and syscalls, memory bounded.
class block_buffer : public std::streambuf {
 public:
  explicit block_buffer(std::ostream& out) : out_(out), buf_(io_buffer) {
    setp(buf_.data(), buf_.data() + buf_.size());
  }
  ~block_buffer() override { sync(); }

 protected:
  int_type overflow(int_type ch) override {
    if (flush_block() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n >= static_cast<std::streamsize>(buf_.size())) {  // big writes pass straight through
      if (flush_block() != 0) return 0;
      out_.write(s, n);
      return out_ ? n : 0;
    }
    return std::streambuf::xsputn(s, n);
  }
  int sync() override {
    if (flush_block() != 0) return -1;
    out_.flush();
    return out_ ? 0 : -1;
  }

 private:
  int flush_block() {
    auto n = pptr() - pbase();
    if (n > 0) out_.write(pbase(), n);
    setp(buf_.data(), buf_.data() + buf_.size());
    return out_ ? 0 : -1;
  }
  std::ostream& out_;
  std::vector<char> buf_;
};

/// Reads a file descriptor through a caller's buffer (one 1 MiB buffer
/// serves every file of a folder download).
class fd_readbuf : public std::streambuf {
 public:
  fd_readbuf(int fd, std::vector<char>& buf) : fd_(fd), buf_(buf) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    ssize_t n;
    do {
      n = ::read(fd_, buf_.data(), buf_.size());
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return traits_type::eof();
    setg(buf_.data(), buf_.data(), buf_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  int fd_;
  std::vector<char>& buf_;
};

Poco::DateTime mtime_of(const struct stat& st) {
  return Poco::DateTime(Poco::Timestamp::fromEpochTime(st.st_mtime));
}

}  // namespace

std::string content_disposition(const std::string& filename) {
  std::string ascii;
  for (unsigned char c : filename)
    ascii += (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '_' : static_cast<char>(c);
  std::string encoded;
  Poco::URI::encode(filename, "!#$&+,/:;=?@[]\"'()*<>{}|\\^`% ", encoded);
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

void write_folder_zip(int dir_fd, const files::task_root* root, std::ostream& out) {
  block_buffer buffered(out);
  std::ostream zout(&buffered);
  Poco::Zip::Compress zip(zout, false);
  std::vector<char> read_buf(io_buffer);
  files::walk_folder_files(dir_fd, root, [&](std::string_view rel, int fd, const struct stat& st) {
    const std::string name(rel);
    if (fd < 0) {
      zip.addDirectory(Poco::Path(name + "/", Poco::Path::PATH_UNIX), mtime_of(st));
      return;
    }
    fd_readbuf file(fd, read_buf);
    std::istream in(&file);
    zip.addFile(in, mtime_of(st), Poco::Path(name, Poco::Path::PATH_UNIX),
                Poco::Zip::ZipCommon::CM_DEFLATE, Poco::Zip::ZipCommon::CL_SUPERFAST);
  });
  zip.close();
  zout.flush();
  if (!zout || !out) throw std::runtime_error("writing the zip failed");
}

void send_download(const files::task_root& root, const files::resolved_path& target,
                   const std::string& display_name, Poco::Net::HTTPServerResponse& response) {
  if (!target.exists()) throw not_found("\"" + target.relative + "\" does not exist");
  if (target.is_dir()) {
    const unique_fd dir = files::open_folder(target.target());
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("application/zip");
    response.set("Content-Disposition", content_disposition(display_name + ".zip"));
    response.setChunkedTransferEncoding(true);
    auto& out = response.send();
    write_folder_zip(dir.get(), &root, out);
    return;
  }
  const unique_fd fd = files::open_regular_file(target.target(), target.relative);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw http_error(500, "filesystem_error", std::string("fstat: ") + std::strerror(errno));
  response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType("application/octet-stream");
  response.set("Content-Disposition", content_disposition(display_name));
  response.setChunkedTransferEncoding(false);
  response.setContentLength64(st.st_size);
  auto& out = response.send();
  std::vector<char> buf(256 << 10);
  std::uint64_t left = static_cast<std::uint64_t>(st.st_size);
  while (left > 0) {
    auto n = ::read(fd.get(), buf.data(), std::min<std::uint64_t>(left, buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("the file shrank while it was sent");
    out.write(buf.data(), n);
    if (!out) throw std::runtime_error("the client went away");
    left -= static_cast<std::uint64_t>(n);
  }
  out.flush();
}

}  // namespace nomad_iis::http
