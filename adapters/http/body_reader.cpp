#include "adapters/http/body_reader.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include <Poco/Buffer.h>
#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>

#include "adapters/http/http_error.hpp"

namespace nomad_iis::http {
namespace {

/// The rest of a fixed-length body: first what the session already
/// buffered after the headers, then the socket itself.
struct socket_body {
  Poco::Net::StreamSocket socket;
  Poco::Buffer<char> buffered{0};
  std::size_t buffered_pos = 0;
  std::uint64_t remaining = 0;

  std::size_t read(char* out, std::size_t n) {
    if (remaining == 0) return 0;
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining));
    std::size_t got = 0;
    if (buffered_pos < buffered.size()) {
      got = std::min(n, buffered.size() - buffered_pos);
      std::memcpy(out, buffered.begin() + buffered_pos, got);
      buffered_pos += got;
    } else {
      try {
        int r = socket.receiveBytes(out, static_cast<int>(std::min<std::size_t>(n, 1 << 30)));
        got = r > 0 ? static_cast<std::size_t>(r) : 0;
      } catch (const Poco::TimeoutException&) {
        throw http_error(408, "upload_stalled", "no upload data arrived for too long");
      } catch (const Poco::Exception&) {
        throw bad_request("upload_incomplete", "the connection failed during the upload");
      }
    }
    remaining -= got;
    return got;
  }
};

}  // namespace

body_reader make_body_reader(Poco::Net::HTTPServerRequest& request) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl && !request.getChunkedTransferEncoding() && request.hasContentLength()) {
    auto body = std::make_shared<socket_body>();
    body->socket = impl->socket();
    impl->session().drainBuffer(body->buffered);
    body->remaining = static_cast<std::uint64_t>(request.getContentLength64());
    return [body](char* out, std::size_t n) { return body->read(out, n); };
  }
  auto* in = &request.stream();
  return [in](char* out, std::size_t n) -> std::size_t {
    in->read(out, static_cast<std::streamsize>(n));
    if (in->bad())
      throw bad_request("upload_incomplete", "the connection failed during the upload");
    return static_cast<std::size_t>(in->gcount());
  };
}

}  // namespace nomad_iis::http
