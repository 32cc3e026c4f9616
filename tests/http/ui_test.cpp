// The dashboard's files (/ui): every answer carries the Content-Security-
// Policy and the other security headers, the content types and ETags are
// right, and no file holds code the policy would have to allow inline
// (script or style elements with content, event-handler or style
// attributes, javascript: URLs) or writes markup from strings.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <map>
#include <regex>
#include <set>
#include <string>

#include "adapters/http/ui.hpp"
#include "adapters/http/ui_assets.hpp"

using namespace nomad_iis::http;

namespace {

std::string header(const response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

void check_security_headers(const response& r) {
  const auto csp = header(r, "Content-Security-Policy");
  BOOST_TEST(csp == std::string(ui_content_security_policy));
  for (const char* directive :
       {"default-src 'self'", "script-src 'self';", "style-src 'self';", "img-src 'self' blob:;",
        "connect-src 'self'", "frame-ancestors 'none'"})
    BOOST_TEST(csp.find(directive) != std::string::npos, directive);
  BOOST_TEST(csp.find("unsafe") == std::string::npos);
  BOOST_TEST(header(r, "X-Content-Type-Options") == "nosniff");
  BOOST_TEST(header(r, "Referrer-Policy") == "no-referrer");
  BOOST_TEST(header(r, "X-Frame-Options") == "DENY");
}

bool found(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern, std::regex::icase));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dashboard)

BOOST_AUTO_TEST_CASE(every_file_is_served_with_the_policy_its_type_and_etag) {
  std::size_t total = 0;
  std::set<std::string> etags;
  for (const auto& a : ui_assets()) {
    BOOST_TEST_CONTEXT(a.name) {
      const auto r = ui_response("/ui/" + std::string(a.name), "");
      BOOST_TEST(r.status == 200);
      BOOST_TEST(r.body == std::string(a.body));
      BOOST_TEST(r.content_type == std::string(a.content_type));
      check_security_headers(r);
      const auto etag = header(r, "ETag");
      BOOST_TEST(std::regex_match(etag, std::regex("\"[0-9a-f]{24}\"")));
      etags.insert(etag);
      BOOST_TEST(header(r, "Cache-Control") == "no-cache");
      // A client holding it gets 304 and no body; a weak or listed tag too.
      for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag}) {
        const auto again = ui_response("/ui/" + std::string(a.name), inm);
        BOOST_TEST(again.status == 304);
        BOOST_TEST(again.body.empty());
        check_security_headers(again);
      }
      BOOST_TEST(ui_response("/ui/" + std::string(a.name), "\"other\"").status == 200);
      total += a.body.size();
    }
  }
  BOOST_TEST(etags.size() == ui_assets().size());
  BOOST_TEST(total < 60u * 1024u, "the dashboard is " << total << " bytes");
  const std::map<std::string, std::string> types{{"index.html", "text/html; charset=utf-8"},
                                                 {"app.js", "text/javascript; charset=utf-8"},
                                                 {"style.css", "text/css; charset=utf-8"}};
  for (const auto& [name, type] : types)
    BOOST_TEST(ui_response("/ui/" + name, "").content_type == type);
}

BOOST_AUTO_TEST_CASE(ui_and_ui_slash_are_the_page_and_unknown_files_404) {
  const auto index = ui_response("/ui/index.html", "").body;
  BOOST_TEST(ui_response("/ui", "").body == index);
  BOOST_TEST(ui_response("/ui/", "").body == index);
  for (const char* missing :
       {"/ui/nope.js", "/ui/../api/v1/allocs", "/ui/app.js/x", "/ui//app.js"}) {
    const auto r = ui_response(missing, "");
    BOOST_TEST(r.status == 404, missing);
    BOOST_TEST(r.body.find("\"not_found\"") != std::string::npos);
    check_security_headers(r);
  }
  BOOST_TEST(is_ui_path("/ui"));
  BOOST_TEST(is_ui_path("/ui/app.js"));
  BOOST_TEST(!is_ui_path("/uix"));
  BOOST_TEST(!is_ui_path("/api/v1/ui"));
}

BOOST_AUTO_TEST_CASE(no_file_holds_inline_script_or_style) {
  std::set<std::string> names;
  for (const auto& a : ui_assets()) names.insert(std::string(a.name));
  for (const auto& a : ui_assets()) {
    const std::string text(a.body);
    BOOST_TEST_CONTEXT(a.name) {
      BOOST_TEST(!found(text, "javascript:"));
      if (a.name.substr(a.name.size() - 5) == ".html") {
        // Every script element loads a file of ours and holds nothing.
        const std::regex script("<script([^>]*)>([\\s\\S]*?)</script>", std::regex::icase);
        int scripts = 0;
        for (std::sregex_iterator it(text.begin(), text.end(), script), end; it != end; ++it) {
          ++scripts;
          std::smatch src;
          const std::string attrs = (*it)[1];
          BOOST_TEST(std::regex_search(attrs, src, std::regex("src=\"/ui/([^\"]+)\"")), attrs);
          if (!src.empty()) BOOST_TEST(names.count(src[1]) == 1u, src[1]);
          BOOST_TEST((*it)[2].str().empty());
        }
        BOOST_TEST(scripts >= 1);
        BOOST_TEST(!found(text, "<style"));
        BOOST_TEST(!found(text, "\\sstyle\\s*="));
        BOOST_TEST(!found(text, "\\son[a-z]+\\s*="));  // onclick= and the like
        // Stylesheets and icons are our files too.
        const std::regex href("href=\"([^\"]*)\"");
        for (std::sregex_iterator it(text.begin(), text.end(), href), end; it != end; ++it) {
          const std::string target = (*it)[1];
          BOOST_TEST((target.rfind("/ui/", 0) == 0 && names.count(target.substr(4)) == 1u), target);
        }
      }
      if (a.name.substr(a.name.size() - 3) == ".js") {
        // Markup is never written from strings; nothing evaluates text.
        for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                                 "eval(", "new Function", "setAttribute('style'", ".style."})
          BOOST_TEST(text.find(sink) == std::string::npos, sink);
        // The token never goes into a URL or a cookie.
        BOOST_TEST(!found(text, "document\\.cookie"));
        BOOST_TEST(!found(text, "localStorage"));
        BOOST_TEST(!found(text, "[?&](api_?key|token)="));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
