#include "adapters/http/disposition.hpp"

#include <Poco/URI.h>

namespace nomad_iis::http {

std::string content_disposition(const std::string& filename) {
  std::string ascii;
  for (unsigned char c : filename)
    ascii += (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '_' : static_cast<char>(c);
  std::string encoded;
  Poco::URI::encode(filename, "!#$&+,/:;=?@[]\"'()*<>{}|\\^`% ", encoded);
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace nomad_iis::http
