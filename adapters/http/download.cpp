#include "adapters/http/download.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
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

struct dir_closer {
  void operator()(DIR* d) const { ::closedir(d); }
};

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

struct walk_state {
  Poco::Zip::Compress& zip;
  const std::string& skip_dir;
  std::vector<char> read_buf = std::vector<char>(io_buffer);
};

Poco::DateTime mtime_of(const struct stat& st) {
  return Poco::DateTime(Poco::Timestamp::fromEpochTime(st.st_mtime));
}

void add_tree(walk_state& w, const std::string& dir, const std::string& prefix) {
  std::unique_ptr<DIR, dir_closer> d(::opendir(dir.c_str()));
  if (!d) return;  // vanished or unreadable: skipped
  std::vector<std::string> names;
  while (auto* ent = ::readdir(d.get())) {
    std::string n = ent->d_name;
    // Staging dirs of uploads in progress are not content.
    if (n != "." && n != ".." && n.rfind(".nomad-iis-staging-", 0) != 0)
      names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string path = dir + "/" + name;
    std::string rel = prefix + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) continue;  // links are skipped, never followed
    if (S_ISDIR(st.st_mode)) {
      if (!w.skip_dir.empty() && path == w.skip_dir) continue;
      w.zip.addDirectory(Poco::Path(rel + "/", Poco::Path::PATH_UNIX), mtime_of(st));
      add_tree(w, path, rel + "/");
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    std::ifstream in;
    in.rdbuf()->pubsetbuf(w.read_buf.data(), static_cast<std::streamsize>(w.read_buf.size()));
    in.open(path, std::ios::binary);
    if (!in) continue;
    w.zip.addFile(in, mtime_of(st), Poco::Path(rel, Poco::Path::PATH_UNIX),
                  Poco::Zip::ZipCommon::CM_DEFLATE, Poco::Zip::ZipCommon::CL_SUPERFAST);
  }
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

void write_folder_zip(const std::string& dir, const std::string& skip_dir, std::ostream& out) {
  block_buffer buffered(out);
  std::ostream zout(&buffered);
  Poco::Zip::Compress zip(zout, false);
  walk_state w{zip, skip_dir};
  add_tree(w, dir, "");
  zip.close();
  zout.flush();
  if (!zout || !out) throw std::runtime_error("writing the zip failed");
}

void send_download(const resolved_path& target, const std::string& display_name,
                   const std::string& skip_dir, Poco::Net::HTTPServerResponse& response) {
  if (!target.exists) throw not_found("\"" + target.relative + "\" does not exist");
  if (target.is_dir) {
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("application/zip");
    response.set("Content-Disposition", content_disposition(display_name + ".zip"));
    response.setChunkedTransferEncoding(true);
    auto& out = response.send();
    write_folder_zip(target.target, skip_dir, out);
    return;
  }
  int fd = ::open(target.target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) throw not_found("\"" + target.relative + "\" does not exist");
    throw http_error(500, "filesystem_error",
                     std::string("cannot open the file: ") + std::strerror(errno));
  }
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } c{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw bad_request("bad_path", "\"" + target.relative + "\" is not a regular file");
  response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType("application/octet-stream");
  response.set("Content-Disposition", content_disposition(display_name));
  response.setChunkedTransferEncoding(false);
  response.setContentLength64(st.st_size);
  auto& out = response.send();
  std::vector<char> buf(256 << 10);
  std::uint64_t left = static_cast<std::uint64_t>(st.st_size);
  while (left > 0) {
    auto n = ::read(fd, buf.data(), std::min<std::uint64_t>(left, buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("the file shrank while it was sent");
    out.write(buf.data(), n);
    if (!out) throw std::runtime_error("the client went away");
    left -= static_cast<std::uint64_t>(n);
  }
  out.flush();
}

}  // namespace nomad_iis::http
