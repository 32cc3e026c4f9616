#pragma once
// The OpenAPI 3.1 document of the Management API (adapters/http/openapi.json,
// compiled in), served at GET /api/v1/openapi.json without credentials.

#include <string_view>

namespace nomad_iis::http {

/// The document's JSON text.
std::string_view openapi_document();

}  // namespace nomad_iis::http
