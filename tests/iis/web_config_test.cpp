#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "iis/app_command.hpp"
#include "iis/web_config.hpp"
#include "test_support.hpp"

using namespace nomad_iis;
using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(web_config_parsing)

BOOST_AUTO_TEST_CASE(asp_net_core_inside_location) {
  const auto config = parse_web_config(R"(<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <location path="." inheritInChildApplications="false">
    <system.webServer>
      <handlers><add name="aspNetCore" path="*" verb="*" modules="AspNetCoreModuleV2" /></handlers>
      <aspNetCore processPath="dotnet" arguments=".\MyApp.dll" stdoutLogEnabled="true"
                  stdoutLogFile=".\logs\stdout" hostingModel="InProcess" startupTimeLimit="30"
                  shutdownTimeLimit="5" requestTimeout="00:04:00">
        <environmentVariables>
          <environmentVariable name="ASPNETCORE_ENVIRONMENT" value="Staging" />
        </environmentVariables>
      </aspNetCore>
      <security><requestFiltering><requestLimits maxAllowedContentLength="52428800" /></requestFiltering></security>
    </system.webServer>
  </location>
</configuration>)");
  BOOST_REQUIRE(config.handler);
  const auto& h = *config.handler;
  BOOST_TEST((h.type == process_handler::kind::asp_net_core));
  BOOST_TEST(h.process_path == "dotnet");
  BOOST_TEST(h.arguments == ".\\MyApp.dll");
  BOOST_TEST(h.stdout_log_enabled);
  BOOST_TEST(h.stdout_log_file == ".\\logs\\stdout");
  BOOST_TEST(h.hosting_model == "inprocess");
  BOOST_TEST(h.startup_time_limit->count() == 30000);
  BOOST_TEST(h.shutdown_time_limit->count() == 5000);
  BOOST_TEST(h.request_timeout->count() == 240000);
  BOOST_REQUIRE(h.environment.size() == 1u);
  BOOST_TEST(h.environment[0].first == "ASPNETCORE_ENVIRONMENT");
  BOOST_TEST(*config.max_allowed_content_length == 52428800u);
}

BOOST_AUTO_TEST_CASE(http_platform_and_plain_sites) {
  const auto config = parse_web_config(R"(<configuration><system.webServer>
      <httpPlatform processPath="%HOME%\node.exe" arguments="server.js %HTTP_PLATFORM_PORT%">
        <environmentVariables><environmentVariable name="A" value="1"/></environmentVariables>
      </httpPlatform></system.webServer></configuration>)");
  BOOST_REQUIRE(config.handler);
  BOOST_TEST((config.handler->type == process_handler::kind::http_platform));
  BOOST_TEST(config.handler->arguments == "server.js %HTTP_PLATFORM_PORT%");
  BOOST_TEST(!parse_web_config("<configuration><system.webServer><defaultDocument/>"
                               "</system.webServer></configuration>")
                  .handler);
  // A <location> for a sub path does not apply to the application root.
  BOOST_TEST(!parse_web_config("<configuration><location path=\"sub\"><system.webServer>"
                               "<aspNetCore processPath=\"x\"/></system.webServer></location>"
                               "</configuration>")
                  .handler);
}

BOOST_AUTO_TEST_CASE(malformed_files_are_errors) {
  BOOST_CHECK_THROW(parse_web_config("<configuration><system.webServer>"), std::runtime_error);
  BOOST_CHECK_THROW(parse_web_config("<configuration><system.webServer><aspNetCore "
                                     "processPath=\"x\" startupTimeLimit=\"soon\"/>"
                                     "</system.webServer></configuration>"),
                    std::runtime_error);
  BOOST_CHECK_THROW(parse_web_config("<configuration><system.webServer><aspNetCore/>"
                                     "</system.webServer></configuration>"),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(read_finds_either_spelling) {
  temp_dir root;
  std::ofstream(root.path() + "/Web.config")
      << "<configuration><system.webServer><aspNetCore processPath=\"x\"/></system.webServer>"
         "</configuration>";
  BOOST_TEST(read_web_config(root.path()).handler.has_value());
  BOOST_TEST(!read_web_config(root.path() + "/missing").handler.has_value());
}

BOOST_AUTO_TEST_CASE(expansion_and_argument_splitting) {
  BOOST_TEST(expand_variables("--port %HTTP_PLATFORM_PORT% %nope% 100%",
                              {"HTTP_PLATFORM_PORT=81"}) == "--port 81 %nope% 100%");
  BOOST_TEST(expand_variables("%path%", {"PATH=/bin"}) == "/bin");
  const std::vector<std::string> expected{"a", "b c", "d\"e"};
  const auto args = split_arguments("a  \"b c\" d\"\"\"e\"");
  BOOST_TEST(args.size() == 3u);
  BOOST_TEST(args[0] == "a");
  BOOST_TEST(args[1] == "b c");
}

BOOST_AUTO_TEST_CASE(app_command_for_asp_net_core) {
  temp_dir root;
  const std::string app_dir = root.path() + "/site";
  std::filesystem::create_directories(app_dir);
  std::ofstream(app_dir + "/MyApp") << "#!/bin/sh\n";
  ::chmod((app_dir + "/MyApp").c_str(), 0755);
  process_handler handler;
  handler.type = process_handler::kind::asp_net_core;
  handler.process_path = ".\\MyApp.exe";
  handler.arguments = "--urls-ignored .\\data\\x.db";
  handler.environment = {{"ASPNETCORE_ENVIRONMENT", "Staging"}, {"ASPNETCORE_PORT", "1"}};
  handler.stdout_log_enabled = true;
  handler.stdout_log_file = ".\\logs\\stdout";
  application_plan app;
  app.url_path = "/api/";
  app.physical_path = app_dir;
  pool_plan pool;
  pool.env = {{"PATH", "/usr/bin:/bin"}, {"TMP", "/t"}};
  const auto command = build_app_command(handler, app, pool, 41234, root.path());
  BOOST_TEST(command.request.path == app_dir + "/MyApp");
  BOOST_TEST(command.request.cwd == app_dir);
  const std::vector<std::string> args{app_dir + "/MyApp", "--urls-ignored", "./data/x.db"};
  BOOST_TEST(command.request.args == args, boost::test_tools::per_element());
  auto has_env = [&](const std::string& entry) {
    return std::find(command.request.env.begin(), command.request.env.end(), entry) !=
           command.request.env.end();
  };
  BOOST_TEST(has_env("ASPNETCORE_PORT=41234"));
  BOOST_TEST(has_env("ASPNETCORE_URLS=http://127.0.0.1:41234"));
  BOOST_TEST(has_env("ASPNETCORE_APPL_PATH=/api"));
  BOOST_TEST(has_env("ASPNETCORE_ENVIRONMENT=Staging"));
  BOOST_TEST(has_env("TMP=/t"));
  BOOST_TEST(command.stdout_log_path.rfind(app_dir + "/logs/stdout_", 0) == 0u);

  handler.stdout_log_file = "../../../../etc/evil";
  BOOST_CHECK_THROW(build_app_command(handler, app, pool, 1, root.path()), std::runtime_error);
  handler.stdout_log_enabled = false;
  handler.process_path = "no-such-program";
  BOOST_CHECK_THROW(build_app_command(handler, app, pool, 1, root.path()), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(app_command_for_http_platform) {
  process_handler handler;
  handler.type = process_handler::kind::http_platform;
  handler.process_path = "python3";
  handler.arguments = "app.py --port %HTTP_PLATFORM_PORT%";
  handler.environment = {{"LISTEN", "127.0.0.1:%HTTP_PLATFORM_PORT%"}};
  application_plan app;
  app.url_path = "/";
  app.physical_path = "/tmp";
  pool_plan pool;
  pool.env = {{"PATH", "/usr/bin:/bin"}};
  const auto command = build_app_command(handler, app, pool, 5001, "/tmp");
  BOOST_TEST(command.request.path == "/usr/bin/python3");
  BOOST_TEST(command.request.args.back() == "5001");
  BOOST_TEST((std::find(command.request.env.begin(), command.request.env.end(),
                        "LISTEN=127.0.0.1:5001") != command.request.env.end()));
  BOOST_TEST((std::find(command.request.env.begin(), command.request.env.end(),
                        "HTTP_PLATFORM_PORT=5001") != command.request.env.end()));
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
