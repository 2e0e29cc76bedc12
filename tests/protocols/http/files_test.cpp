// Pure pieces of the file server: target normalization (traversal forms),
// ranges, dates, validators, media types.
#include <doctest/doctest.h>

#include <string>

#include "protocols/http/files.hpp"

using namespace kam::protocols::http;

TEST_SUITE("protocols.http.files") {

  TEST_CASE("normalize_target removes dot segments after decoding, once") {
    struct row {
      const char* in;
      const char* out; // "" when an error is expected
      path_error err;
    };
    const row table[] = {
      {"/", "/", path_error::none},
      {"/a/b.txt", "/a/b.txt", path_error::none},
      {"/a/b/?q=1#f", "/a/b/", path_error::none},
      {"/../etc/passwd", "/etc/passwd", path_error::none},
      {"/a/../../etc/passwd", "/etc/passwd", path_error::none},
      {"/%2e%2e/etc/passwd", "/etc/passwd", path_error::none},
      {"/%2E%2E%2Fetc%2Fpasswd", "/etc/passwd", path_error::none},
      {"/..%2f..%2fetc/passwd", "/etc/passwd", path_error::none},
      {"/%252e%252e/etc", "/%2e%2e/etc",
       path_error::none}, // double encoding stays a name
      {"/./a/./b", "/a/b", path_error::none},
      {"//a//b", "/a/b", path_error::none},
      {"/a/..", "/", path_error::none},
      {"/a/.", "/a/", path_error::none},
      {"http://evil/../x", "/x", path_error::none},
      {"HTTP://host", "/", path_error::none},
      {"/..\\..\\etc", "", path_error::backslash},
      {"/..%5c..%5cetc", "", path_error::backslash},
      {"/%5C", "", path_error::backslash},
      {"/a%00.txt", "", path_error::nul},
      {"/a%0d%0a", "", path_error::control_char},
      {"/%zz", "", path_error::bad_escape},
      {"/%2", "", path_error::bad_escape},
      {"*", "", path_error::bad_target},
      {"etc/passwd", "", path_error::bad_target},
    };
    std::string out;
    for (auto& r : table) {
      CAPTURE(r.in);
      auto err = normalize_target(r.in, out);
      CHECK(err == r.err);
      if (r.err == path_error::none) {
        CHECK(out == r.out);
        CHECK(out.find("/../") == std::string::npos);
      }
    }
  }

  TEST_CASE("parse_range: single ranges, suffixes, clamping, 416") {
    byte_range br;
    CHECK(parse_range("bytes=0-9", 100, br) == range_status::satisfiable);
    CHECK((br.first == 0 && br.last == 9));
    CHECK(parse_range("bytes=90-200", 100, br) == range_status::satisfiable);
    CHECK((br.first == 90 && br.last == 99));
    CHECK(parse_range("bytes=10-", 100, br) == range_status::satisfiable);
    CHECK((br.first == 10 && br.last == 99));
    CHECK(parse_range("bytes=-5", 100, br) == range_status::satisfiable);
    CHECK((br.first == 95 && br.last == 99));
    CHECK(parse_range("bytes=-500", 100, br) == range_status::satisfiable);
    CHECK((br.first == 0 && br.last == 99));
    CHECK(parse_range("bytes=100-", 100, br) == range_status::unsatisfiable);
    CHECK(parse_range("bytes=-0", 100, br) == range_status::unsatisfiable);
    CHECK(parse_range("bytes=5-1", 100, br) == range_status::ignore);
    CHECK(parse_range("bytes=0-1,5-6", 100, br) == range_status::ignore);
    CHECK(parse_range("items=0-1", 100, br) == range_status::ignore);
    CHECK(parse_range("bytes=x-1", 100, br) == range_status::ignore);
  }

  TEST_CASE("dates round-trip in all three forms") {
    CHECK(http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK_FALSE(parse_http_date("yesterday"));
  }

  TEST_CASE("etag_matches: lists, weak prefixes, star") {
    CHECK(etag_matches("\"a\"", "\"a\""));
    CHECK(etag_matches("\"x\", W/\"a\"", "\"a\""));
    CHECK(etag_matches("*", "\"a\""));
    CHECK_FALSE(etag_matches("\"b\"", "\"a\""));
  }

  TEST_CASE("media types come from /etc/mime.types") {
    auto t = mime_table::load();
    REQUIRE(t.size() > 100);
    CHECK(t.lookup("a/b.html") == "text/html; charset=utf-8");
    CHECK(t.lookup("x.PNG") == "image/png");
    CHECK(t.lookup("noext") == "application/octet-stream");
  }
}
