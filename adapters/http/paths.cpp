#include "adapters/http/paths.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "adapters/http/http_error.hpp"

namespace nomad_iis::http {
namespace {

constexpr std::size_t max_path_length = 4096;

http_error bad_path(const std::string& why) {
  return bad_request("bad_path", why);
}

}  // namespace

std::string decode_fs_path(const std::vector<std::string>& raw_segments) {
  std::string out;
  for (const auto& raw : raw_segments) {
    std::string decoded;
    try {
      Poco::URI::decode(raw, decoded, false);
    } catch (const Poco::Exception&) {
      throw bad_path("the path has a malformed percent-encoding");
    }
    files::check_path_text(decoded);
    if (!out.empty()) out += '/';
    out += decoded;
  }
  if (out.size() > max_path_length) throw bad_path("the path is too long");
  return out;
}

}  // namespace nomad_iis::http
