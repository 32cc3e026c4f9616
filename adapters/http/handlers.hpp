#pragma once
// The Management API's request handler: authentication first, then the
// route, the capability, the task lookup and scope, then the operation.
// Every failure becomes a JSON error.

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "adapters/http/api_context.hpp"

namespace nomad_iis::http {

class request_handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit request_handler(api_context& ctx) : ctx_(ctx) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override;

 private:
  api_context& ctx_;
};

class handler_factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit handler_factory(api_context& ctx) : ctx_(ctx) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new request_handler(ctx_);
  }

 private:
  api_context& ctx_;
};

}  // namespace nomad_iis::http
