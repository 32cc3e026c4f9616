#include "adapters/http/status_poll.hpp"

#include <algorithm>
#include <sstream>

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/MemoryStream.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Timestamp.h>

#include "adapters/http/api_context.hpp"
#include "adapters/http/framing.hpp"
#include "adapters/http/http_error.hpp"
#include "adapters/http/router.hpp"

namespace nomad_iis::http {

namespace {

/// The status poll `request` (its header block `head_bytes` long) is, or
/// nullopt.
std::optional<status_poll> as_status_poll(const Poco::Net::HTTPRequest& request,
                                          std::size_t head_bytes, const authenticator& auth,
                                          std::chrono::system_clock::time_point now) {
  if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_GET ||
      request.getVersion() != Poco::Net::HTTPMessage::HTTP_1_1 || !request.getKeepAlive() ||
      request.hasContentLength() || request.has("Transfer-Encoding") || request.has("Expect"))
    return std::nullopt;
  const auto& uri = request.getURI();
  if (uri.find('?') != std::string::npos) return std::nullopt;

  const std::string* key = request.has("X-Api-Key") ? &request.get("X-Api-Key") : nullptr;
  const std::string* authz = request.has("Authorization") ? &request.get("Authorization") : nullptr;
  auto auth_result = auth.authenticate(key, authz, now);
  if (!auth_result.who || !auth_result.who->has(capability::status)) return std::nullopt;
  status_poll poll;
  poll.request_bytes = head_bytes;
  try {
    auto route = match_route(request.getMethod(), uri);
    if (route.status != 200 || route.id != route_id::status ||
        !auth_result.who->may_access_alloc(route.alloc_id))
      return std::nullopt;
    poll.task = {std::move(route.alloc_id), std::move(route.task_name)};
  } catch (const http_error&) {
    return std::nullopt;
  }
  poll.path = uri;
  poll.who = std::move(*auth_result.who);
  return poll;
}

request_verdict refusal(int status, std::string code, std::string message) {
  request_verdict v;
  v.what = request_verdict::action::refuse;
  v.status = status;
  v.code = std::move(code);
  v.message = std::move(message);
  return v;
}

}  // namespace

request_verdict judge_request(std::string_view bytes, std::size_t max_head,
                              const authenticator& auth,
                              std::chrono::system_clock::time_point now) {
  const auto end = header_block_end(bytes.substr(0, std::min(bytes.size(), max_head)));
  if (!end) {
    if (bytes.size() < max_head) return {};
    return refusal(
        431, "headers_too_large",
        "the request's headers are larger than " + std::to_string(max_head >> 10) + " KiB");
  }
  const auto head = bytes.substr(0, *end);
  if (auto problem = header_lines_problem(head)) return refusal(400, "bad_request", *problem);
  request_verdict verdict;
  verdict.what = request_verdict::action::to_thread;
  Poco::Net::HTTPRequest request;
  try {
    Poco::MemoryInputStream in(head.data(), head.size());
    request.read(in);
  } catch (const Poco::Exception&) {
    return verdict;  // the thread reads it with Poco again and answers what Poco says
  }
  if (auto problem = framing_problem(request)) return refusal(400, "bad_request", *problem);
  if ((verdict.poll = as_status_poll(request, *end, auth, now)))
    verdict.what = request_verdict::action::answer;
  return verdict;
}

std::optional<status_poll> recognize_status_poll(std::string_view bytes, const authenticator& auth,
                                                 std::chrono::system_clock::time_point now) {
  return judge_request(bytes, bytes.size() + 1, auth, now).poll;
}

std::optional<std::string> status_poll_response(const status_poll& poll,
                                                const status_answer& answer,
                                                const std::string& date, bool keep_alive) {
  const auto& task = answer.task;
  if (!poll.who.may_access(task.alloc_id, task.namespace_name, task.job_name)) return std::nullopt;
  Poco::Net::HTTPResponse response(Poco::Net::HTTPMessage::HTTP_1_1,
                                   Poco::Net::HTTPResponse::HTTP_OK);
  response.set("Date", date);
  response.setKeepAlive(keep_alive);
  response.setContentType("application/json; charset=utf-8");
  response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
  std::ostringstream out;
  response.write(out);
  out << answer.body;
  return std::move(out).str();
}

const std::string& http_date_clock::now() {
  const auto t = std::chrono::system_clock::now();
  const auto second =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  if (second != second_) {
    second_ = second;
    text_ = Poco::DateTimeFormatter::format(
        Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(second)),
        Poco::DateTimeFormat::HTTP_FORMAT);
  }
  return text_;
}

}  // namespace nomad_iis::http
