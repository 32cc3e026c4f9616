#include "adapters/http/json_errors.hpp"

#include <sstream>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/beast/http.hpp>

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

std::string error_response_text(int status, std::string_view code, std::string_view message) {
  namespace bhttp = boost::beast::http;
  bhttp::response<bhttp::string_body> res(static_cast<bhttp::status>(status), 11);
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.keep_alive(false);
  res.body() = error_json(code, message);
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return std::move(out).str();
}

}  // namespace nomad_iis::http
