#include "adapters/http/json_errors.hpp"

#include <sstream>

#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace nomad_iis::http {

std::string error_json(std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("error");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return buf.GetString();
}

void send_error(Poco::Net::HTTPServerResponse& response, int status, std::string_view code,
                std::string_view message, const std::string& allow) {
  if (response.sent()) return;
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  if (!allow.empty()) response.set("Allow", allow);
  if (status == 401) response.set("WWW-Authenticate", "Bearer");
  send_json(response, error_json(code, message), status);
}

std::string error_response_text(int status, std::string_view code, std::string_view message) {
  Poco::Net::HTTPResponse response(Poco::Net::HTTPMessage::HTTP_1_1,
                                   static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  const auto body = error_json(code, message);
  response.setKeepAlive(false);
  response.setContentType("application/json; charset=utf-8");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  std::ostringstream out;
  response.write(out);
  out << body;
  return std::move(out).str();
}

void send_json(Poco::Net::HTTPServerResponse& response, const std::string& body, int status) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json; charset=utf-8");
  response.setChunkedTransferEncoding(false);
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.sendBuffer(body.data(), body.size());
}

}  // namespace nomad_iis::http
