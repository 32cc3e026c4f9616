#include "iis/inspect/devtools_pipe.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace nomad_iis::inspect {
namespace {

/// One message holds at most a 4096x4096 PNG in base64 and then some.
constexpr std::size_t max_message = 128u << 20;
constexpr std::size_t read_chunk = 1u << 16;

/// Milliseconds left until `t` for poll(), at least 0.
int poll_ms(devtools_pipe::clock::time_point t) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - devtools_pipe::clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, std::min<std::int64_t>(left.count(), 60000)));
}

std::string string_member(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace

devtools_pipe::devtools_pipe(unique_fd to_browser, unique_fd from_browser,
                             clock::time_point deadline)
    : to_browser_(std::move(to_browser)),
      from_browser_(std::move(from_browser)),
      deadline_(deadline) {}

rapidjson::Document devtools_pipe::call(const std::string& method, const std::string& params,
                                        const std::string& session) {
  auto answer = call_until(method, params, session, deadline_);
  if (!answer) throw devtools_timeout("the browser did not finish in time");
  return std::move(*answer);
}

std::optional<rapidjson::Document> devtools_pipe::call_until(const std::string& method,
                                                             const std::string& params,
                                                             const std::string& session,
                                                             clock::time_point until) {
  const int id = ++next_id_;
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  w.Key("id");
  w.Int(id);
  w.Key("method");
  w.String(method.c_str(), static_cast<rapidjson::SizeType>(method.size()));
  if (!session.empty()) {
    w.Key("sessionId");
    w.String(session.c_str(), static_cast<rapidjson::SizeType>(session.size()));
  }
  w.Key("params");
  w.RawValue(params.c_str(), params.size(), rapidjson::kObjectType);
  w.EndObject();
  write_all(std::string(out.GetString(), out.GetSize()) + '\0');
  while (true) {
    auto next = read_message(until);
    if (!next) return std::nullopt;
    auto& message = *next;
    auto it = message.FindMember("id");
    if (it == message.MemberEnd()) {
      note_event(message);
      continue;
    }
    if (!it->value.IsInt() || it->value.GetInt() != id) continue;
    auto error = message.FindMember("error");
    if (error != message.MemberEnd())
      throw devtools_error(method + ": " + string_member(error->value, "message"));
    rapidjson::Document result;
    auto r = message.FindMember("result");
    if (r != message.MemberEnd() && r->value.IsObject())
      result.CopyFrom(r->value, result.GetAllocator());
    else
      result.SetObject();
    return result;
  }
}

bool devtools_pipe::wait_event(const std::string& method, const std::string& session,
                               clock::time_point until) {
  const auto key = session + "\n" + method;
  while (true) {
    auto it = unseen_events_.find(key);
    if (it != unseen_events_.end() && it->second > 0) {
      --it->second;
      return true;
    }
    auto message = read_message(until);
    if (!message) return false;
    if (!message->HasMember("id")) note_event(*message);
  }
}

std::optional<rapidjson::Document> devtools_pipe::read_message(clock::time_point until) {
  while (true) {
    auto end = buffer_.find('\0', scanned_);
    if (end != std::string::npos) {
      rapidjson::Document message;
      message.Parse(buffer_.data(), end);
      buffer_.erase(0, end + 1);
      scanned_ = 0;
      if (message.HasParseError() || !message.IsObject())
        throw devtools_closed("the browser sent something that is not a DevTools message");
      return message;
    }
    scanned_ = buffer_.size();
    if (buffer_.size() > max_message)
      throw devtools_closed("the browser sent a message larger than " +
                            std::to_string(max_message) + " bytes");
    pollfd p{from_browser_.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, poll_ms(std::min(until, deadline_)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      const auto now = clock::now();
      if (now >= deadline_) throw devtools_timeout("the browser did not finish in time");
      if (now >= until) return std::nullopt;
      continue;
    }
    const auto old = buffer_.size();
    buffer_.resize(old + read_chunk);
    const auto got = ::read(from_browser_.get(), buffer_.data() + old, read_chunk);
    buffer_.resize(old + (got > 0 ? static_cast<std::size_t>(got) : 0));
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) throw devtools_closed("the browser closed its DevTools pipe");
  }
}

void devtools_pipe::note_event(const rapidjson::Document& message) {
  auto method = string_member(message, "method");
  if (!method.empty()) ++unseen_events_[string_member(message, "sessionId") + "\n" + method];
}

void devtools_pipe::write_all(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    pollfd p{to_browser_.get(), POLLOUT, 0};
    int ready = ::poll(&p, 1, poll_ms(deadline_));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      if (clock::now() >= deadline_) throw devtools_timeout("the browser did not finish in time");
      continue;
    }
    const auto n = ::write(to_browser_.get(), text.data() + done, text.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0)
      throw devtools_closed(std::string("the browser's DevTools pipe: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace nomad_iis::inspect
