// The HTTP request parser, alone: a case table, every split point, a
// one-byte drip and pipelined buffers.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/http/parser.hpp"

using namespace kam::protocols::http;

namespace {

struct seen {
  std::string method;
  std::string target;
  unsigned version = 0;
  bool keep_alive = false;
  std::string host;
  std::string body;
};

struct outcome {
  std::vector<seen> requests;
  parse_error error = parse_error::none;
  int continues = 0;
};

/// Feeds `input` as a reader would: pieces of the given sizes appended to a
/// buffer, each complete request dropped from its front.
outcome run(const std::string& input, const std::vector<size_t>& cuts,
            parser_limits limits = {}) {
  parser p{limits};
  request r;
  outcome o;
  std::string buf;
  size_t pos = 0;
  size_t ci = 0;
  while (pos < input.size() && o.error == parse_error::none) {
    size_t n = ci < cuts.size() ? cuts[ci++] : input.size() - pos;
    n = std::min(n, input.size() - pos);
    buf.append(input, pos, n);
    pos += n;
    for (;;) {
      auto res = p.feed(buf, r);
      if (res.status == parse_status::error) {
        o.error = res.error;
        break;
      }
      if (res.status == parse_status::expect_continue) {
        ++o.continues;
        buf.erase(0, res.consumed);
        continue;
      }
      if (res.status == parse_status::request)
        o.requests.push_back({std::string{r.method}, std::string{r.target}, r.version,
                              r.keep_alive, std::string{r.field("host")},
                              std::string{r.body}});
      buf.erase(0, res.consumed); // the views above point into buf
      if (res.status == parse_status::need_more)
        break;
    }
  }
  return o;
}

struct case_row {
  const char* name;
  std::string input;
  size_t count;      // requests expected
  parse_error error; // after them
  std::string last_target;
  std::string last_body;
};

const std::string big_header =
  "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'x') + "\r\n\r\n";

const std::vector<case_row>& cases() {
  static const std::vector<case_row> table{
    {"simple get", "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", 1, parse_error::none, "/a", ""},
    {"http/1.0 without host", "GET /b HTTP/1.0\r\n\r\n", 1, parse_error::none, "/b", ""},
    {"leading blank lines", "\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n", 1,
     parse_error::none, "/c", ""},
    {"content-length body",
     "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 1,
     parse_error::none, "/p", "hello"},
    {"chunked body",
     "POST /q HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
     1, parse_error::none, "/q", "abcde"},
    {"three pipelined",
     "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
     "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
     3, parse_error::none, "/3", ""},
    {"pipelined after a body",
     "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxyGET /2 HTTP/1.1\r\nHost: "
     "h\r\n\r\n",
     2, parse_error::none, "/2", ""},
    {"garbage", "HELLO\r\n\r\n", 0, parse_error::bad_request, "", ""},
    {"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 0,
     parse_error::bad_request, "", ""},
    {"bad version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 0, parse_error::bad_version, "",
     ""},
    {"missing host in 1.1", "GET / HTTP/1.1\r\n\r\n", 0, parse_error::bad_request, "",
     ""},
    {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0,
     parse_error::bad_request, "", ""},
    {"header too large", big_header, 0, parse_error::header_too_large, "", ""},
    {"content-length over the limit",
     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", 0,
     parse_error::body_too_large, "", ""},
    {"bad content-length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 0,
     parse_error::bad_content_length, "", ""},
    {"conflicting content-lengths",
     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0,
     parse_error::bad_content_length, "", ""},
    {"gzip, chunked",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0,
     parse_error::unsupported_transfer_encoding, "", ""},
    {"gzip alone", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 0,
     parse_error::unsupported_transfer_encoding, "", ""},
    {"chunked twice",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     0, parse_error::bad_transfer_encoding, "", ""},
    {"chunked with content-length",
     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     0, parse_error::bad_transfer_encoding, "", ""},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 0,
     parse_error::bad_request, "", ""},
    {"unknown expectation", "GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n", 0,
     parse_error::bad_expectation, "", ""},
    {"bad chunk size",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
     parse_error::bad_request, "", ""},
    {"good then bad", "GET /ok HTTP/1.1\r\nHost: h\r\n\r\nBAD\r\n\r\n", 1,
     parse_error::bad_request, "/ok", ""},
  };
  return table;
}

void check(const case_row& c, const outcome& o) {
  CHECK(o.requests.size() == c.count);
  CHECK(o.error == c.error);
  if (!o.requests.empty() && c.count > 0) {
    CHECK(o.requests.back().target == c.last_target);
    CHECK(o.requests.back().body == c.last_body);
  }
}

} // namespace

TEST_SUITE("protocols.http.parser") {

  TEST_CASE("case table, whole") {
    for (auto& c : cases()) {
      INFO(std::string{c.name});
      check(c, run(c.input, {}));
    }
  }

  TEST_CASE("case table, split at every point") {
    for (auto& c : cases()) {
      INFO(std::string{c.name});
      for (size_t cut = 1; cut < c.input.size(); ++cut) {
        CAPTURE(cut);
        check(c, run(c.input, {cut}));
      }
    }
  }

  TEST_CASE("case table, one-byte drip") {
    for (auto& c : cases()) {
      INFO(std::string{c.name});
      check(c, run(c.input, std::vector<size_t>(c.input.size(), 1)));
    }
  }

  TEST_CASE("keep-alive follows the version and Connection") {
    auto ka = [](const std::string& req) {
      auto o = run(req, {});
      REQUIRE(o.requests.size() == 1);
      return o.requests[0].keep_alive;
    };
    CHECK(ka("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    CHECK_FALSE(ka("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    CHECK_FALSE(ka("GET / HTTP/1.0\r\n\r\n"));
    CHECK(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  }

  TEST_CASE("expect: 100-continue is reported once, before the body") {
    std::string req = "PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                      "Content-Length: 3\r\n\r\nabc";
    auto header_only = run(req.substr(0, req.size() - 3), {});
    CHECK(header_only.continues == 1);
    CHECK(header_only.requests.empty());
    auto whole = run(req, {req.size() - 3});
    CHECK(whole.continues == 1);
    REQUIRE(whole.requests.size() == 1);
    CHECK(whole.requests[0].body == "abc");
  }

  TEST_CASE("a pipelined buffer yields every request in order, fresh parser each") {
    std::string buf;
    for (int i = 0; i < 50; ++i)
      buf += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: h" + std::to_string(i) +
             "\r\n\r\n";
    for (size_t cut : {size_t{0}, size_t{7}, size_t{33}, size_t{1000}}) {
      auto o =
        run(buf, cut == 0 ? std::vector<size_t>{} : std::vector<size_t>(9999, cut));
      REQUIRE(o.requests.size() == 50);
      for (int i = 0; i < 50; ++i) {
        CHECK(o.requests[i].target == "/" + std::to_string(i));
        CHECK(o.requests[i].host == "h" + std::to_string(i));
      }
    }
  }

  TEST_CASE("the body limit is a number and holds for chunked bodies") {
    parser_limits small;
    small.body_limit = 4;
    auto o = run("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
                 {}, small);
    CHECK(o.error == parse_error::body_too_large);
    auto ok =
      run("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd", {}, small);
    CHECK(ok.requests.size() == 1);
  }

  TEST_CASE("errors map to statuses") {
    CHECK(status_of(parse_error::bad_request) == 400);
    CHECK(status_of(parse_error::header_too_large) == 431);
    CHECK(status_of(parse_error::body_too_large) == 413);
    CHECK(status_of(parse_error::unsupported_transfer_encoding) == 501);
    CHECK(status_of(parse_error::bad_version) == 505);
  }
}
