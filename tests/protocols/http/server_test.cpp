// kam-serve --protocol=http over real loopback sockets: every behaviour and
// error the handler promises, traversal attempts, slowloris, a slow reader.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/protocols/http/http_support.hpp"

using namespace kam::test;
using namespace kam::test::http;

namespace {

long rss_kib(int pid) {
  std::ifstream f{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  return -1;
}

} // namespace

TEST_SUITE("protocols.http.server") {

  TEST_CASE("files are served byte-exact with the standard headers, kept alive") {
    site s;
    server srv{{"--root=" + s.root}};
    tcp_client c{"127.0.0.1", srv.port};
    REQUIRE(c.ok());
    std::string rest;
    for (auto [path, want] : {std::pair<std::string, std::string>{"/small.txt", s.small},
                              {"/k16.bin", s.k16},
                              {"/big.bin", s.big},
                              {"/sub/", s.index},
                              {"/in.txt", s.small}}) {
      CAPTURE(path);
      REQUIRE(c.send_all(get(path)));
      auto r = read_response(c, rest);
      REQUIRE(r.ok);
      CHECK(r.status == 200);
      CHECK(r.body == want);
      CHECK(r.field("content-length") == std::to_string(want.size()));
      CHECK(r.has("date"));
      CHECK(r.field("server") == "kamaelia-caf");
      CHECK(r.has("etag"));
      CHECK(r.has("last-modified"));
      CHECK_FALSE(r.has("connection"));
    }
    REQUIRE(c.send_all(get("/small.txt")));
    CHECK(read_response(c, rest).field("content-type") == "text/plain; charset=utf-8");
    REQUIRE(c.send_all(get("/sub/index.html")));
    CHECK(read_response(c, rest).field("content-type") == "text/html; charset=utf-8");
  }

  TEST_CASE("HEAD sends GET's headers and no body") {
    site s;
    server srv{{"--root=" + s.root}};
    tcp_client c{"127.0.0.1", srv.port};
    std::string rest;
    REQUIRE(c.send_all("HEAD /k16.bin HTTP/1.1\r\nHost: t\r\n\r\n" + get("/small.txt")));
    auto h = read_response(c, rest, true);
    CHECK(h.status == 200);
    CHECK(h.field("content-length") == "16384");
    auto g = read_response(c, rest); // follows at once: HEAD had no body
    CHECK(g.status == 200);
    CHECK(g.body == s.small);
  }

  TEST_CASE("pipelined requests are answered in order") {
    site s;
    server srv{{"--root=" + s.root}};
    tcp_client c{"127.0.0.1", srv.port};
    std::string batch = get("/small.txt") + get("/nope") + get("/k16.bin") +
                        "HEAD /small.txt HTTP/1.1\r\nHost: t\r\n\r\n" + get("/sub/");
    REQUIRE(c.send_all(batch));
    std::string rest;
    CHECK(read_response(c, rest).body == s.small);
    CHECK(read_response(c, rest).status == 404);
    CHECK(read_response(c, rest).body == s.k16);
    CHECK(read_response(c, rest, true).field("content-length") == "100");
    CHECK(read_response(c, rest).body == s.index);
  }

  TEST_CASE("keep-alive rules: close, HTTP/1.0, HTTP/1.0 keep-alive") {
    site s;
    server srv{{"--root=" + s.root}};
    {
      tcp_client c{"127.0.0.1", srv.port};
      REQUIRE(c.send_all(get("/small.txt", "Connection: close\r\n")));
      std::string rest;
      auto r = read_response(c, rest);
      CHECK(r.field("connection") == "close");
      CHECK(sees_eof(c));
    }
    {
      tcp_client c{"127.0.0.1", srv.port};
      REQUIRE(c.send_all("GET /small.txt HTTP/1.0\r\n\r\n"));
      std::string rest;
      CHECK(read_response(c, rest).body == s.small);
      CHECK(sees_eof(c));
    }
    {
      tcp_client c{"127.0.0.1", srv.port};
      REQUIRE(c.send_all("GET /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      std::string rest;
      auto r = read_response(c, rest);
      CHECK(r.field("connection") == "keep-alive");
      REQUIRE(c.send_all("GET /k16.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      CHECK(read_response(c, rest).body == s.k16);
    }
  }

  TEST_CASE("conditional requests get 304 without a body") {
    site s;
    server srv{{"--root=" + s.root}};
    auto first = fetch(srv.port, get("/small.txt"));
    auto etag = first.field("etag");
    auto lm = first.field("last-modified");
    REQUIRE(!etag.empty());
    auto a = fetch(srv.port, get("/small.txt", "If-None-Match: " + etag + "\r\n"));
    CHECK(a.status == 304);
    CHECK(a.body.empty());
    CHECK(a.field("etag") == etag);
    CHECK(a.field("content-length") == "100"); // the 200's, no body follows
    CHECK(a.has("date"));
    auto b = fetch(srv.port, get("/small.txt", "If-Modified-Since: " + lm + "\r\n"));
    CHECK(b.status == 304);
    auto c = fetch(srv.port, get("/small.txt", "If-None-Match: \"other\"\r\n"));
    CHECK(c.status == 200);
    auto d = fetch(srv.port, get("/small.txt",
                                 "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    CHECK(d.status == 200);
  }

  TEST_CASE("single ranges: 206 with Content-Range, suffix, clamp, 416") {
    site s;
    server srv{{"--root=" + s.root}};
    auto a = fetch(srv.port, get("/big.bin", "Range: bytes=10-19\r\n"));
    CHECK(a.status == 206);
    CHECK(a.body == s.big.substr(10, 10));
    CHECK(a.field("content-range") == "bytes 10-19/4194304");
    auto b = fetch(srv.port, get("/small.txt", "Range: bytes=-5\r\n"));
    CHECK(b.body == s.small.substr(95));
    auto c = fetch(srv.port, get("/small.txt", "Range: bytes=90-1000\r\n"));
    CHECK(c.body == s.small.substr(90));
    auto d = fetch(srv.port, get("/small.txt", "Range: bytes=100-\r\n"));
    CHECK(d.status == 416);
    CHECK(d.field("content-range") == "bytes */100");
    auto e = fetch(srv.port, get("/big.bin", "Range: bytes=4000000-\r\n"));
    CHECK(e.body == s.big.substr(4000000));
  }

  TEST_CASE("errors are well-formed and close where the stream cannot go on") {
    site s;
    server srv{{"--root=" + s.root}};
    struct row {
      std::string request;
      int status;
      bool closes;
    };
    const row table[] = {
      {"NONSENSE\r\n\r\n", 400, true},
      {"GET / HTTP/1.1\r\n\r\n", 400, true}, // no Host
      {"GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(9000, 'x') + "\r\n\r\n", 431,
       true},
      {"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413, true},
      {"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, true},
      {"GET / HTTP/1.1\r\nHost: t\r\nExpect: x\r\n\r\n", 417, true},
      {"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400, false},
      {"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", 404, false},
      {"DELETE /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", 405, false},
      {"POST /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab", 405, false},
    };
    for (auto& r : table) {
      CAPTURE(r.request.substr(0, 40));
      tcp_client c{"127.0.0.1", srv.port};
      REQUIRE(c.send_all(r.request));
      std::string rest;
      auto resp = read_response(c, rest);
      REQUIRE(resp.ok);
      CHECK(resp.status == r.status);
      CHECK(resp.has("content-length"));
      CHECK(resp.has("date"));
      if (r.status == 405)
        CHECK(resp.field("allow") == "GET, HEAD");
      if (r.closes) {
        CHECK(resp.field("connection") == "close");
        CHECK(sees_eof(c));
      } else { // keep-alive survives
        REQUIRE(c.send_all(get("/small.txt")));
        CHECK(read_response(c, rest).body == s.small);
      }
    }
  }

  TEST_CASE("Expect: 100-continue gets 100 then the answer, or a final status") {
    site s;
    server srv{{"--root=" + s.root}};
    {
      tcp_client c{"127.0.0.1", srv.port};
      REQUIRE(c.send_all("GET /small.txt HTTP/1.1\r\nHost: t\r\nExpect: "
                         "100-continue\r\nContent-Length: 3\r\n\r\n"));
      std::string rest;
      auto cont = read_response(c, rest);
      CHECK(cont.status == 100);
      REQUIRE(c.send_all("abc"));
      CHECK(read_response(c, rest).body == s.small);
    }
    {
      tcp_client c{"127.0.0.1", srv.port};
      REQUIRE(c.send_all("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: "
                         "100-continue\r\nContent-Length: 3\r\n\r\n"));
      std::string rest;
      auto r = read_response(c, rest);
      CHECK(r.status == 405);
      CHECK(sees_eof(c));
    }
  }

  TEST_CASE("no traversal form serves anything outside the root") {
    site s;
    server srv{{"--root=" + s.root}};
    const char* targets[] = {
      "/../secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/%2E%2E%2Fsecret.txt",
      "/sub/../../secret.txt",
      "/sub/%2e%2e/%2e%2e/secret.txt",
      "/%252e%252e%252fsecret.txt",
      "/..%5csecret.txt",
      "/..\\secret.txt",
      "/..%255csecret.txt",
      "/%c0%ae%c0%ae/secret.txt",
      "/up.txt",
      "/abs.txt",
      "/etc/passwd",
      "/etc/hostname",
      "/sub/../up.txt",
      "/./../secret.txt",
      "/....//secret.txt",
      "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/secret.txt%00.txt",
      "http://t/../secret.txt",
      "/..;/secret.txt",
      "/.%2e/secret.txt",
      "//../secret.txt",
    };
    for (auto t : targets) {
      CAPTURE(t);
      auto r = fetch(srv.port, "GET " + std::string{t} + " HTTP/1.1\r\nHost: t\r\n\r\n");
      REQUIRE(r.ok);
      CHECK((r.status == 404 || r.status == 400));
      CHECK(r.body.find("SECRET") == std::string::npos);
      CHECK(r.body.find("root:") == std::string::npos);
    }
    // ...while a symlink inside the root is served.
    CHECK(fetch(srv.port, get("/in.txt")).status == 200);
  }

  TEST_CASE("slowloris: headers not done within the deadline get 408 and a close") {
    site s;
    server srv{{"--root=" + s.root, "--header-timeout=0.3"}};
    tcp_client c{"127.0.0.1", srv.port};
    auto start = std::chrono::steady_clock::now();
    std::string partial = "GET /small.txt HTTP/1.1\r\nHost: t\r\n";
    std::string rest;
    // Drip a byte every 50 ms: each meets any per-read deadline, not this one.
    for (char ch : partial) {
      if (!c.send_all(std::string(1, ch)))
        break;
      auto got = c.recv_some(50ms);
      rest += got;
      if (!got.empty())
        break;
    }
    auto r = read_response(c, rest, false, 3000ms);
    CHECK(r.status == 408);
    CHECK(r.field("connection") == "close");
    CHECK(sees_eof(c));
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took < 2500ms);
    CHECK(took >= 250ms);
    // A client that finishes in time is served.
    CHECK(fetch(srv.port, get("/small.txt")).body == s.small);
  }

  TEST_CASE("a client that does not read holds a bounded amount of a large file") {
    site s;
    std::string huge = random_bytes(48 * 1024 * 1024, 3);
    site::put(s.root + "/huge.bin", huge);
    server srv{{"--root=" + s.root}};
    auto before = rss_kib(srv.proc->pid());
    tcp_client c{"127.0.0.1", srv.port};
    REQUIRE(c.send_all(get("/huge.bin")));
    std::this_thread::sleep_for(700ms);
    auto during = rss_kib(srv.proc->pid());
    CAPTURE(before);
    CAPTURE(during);
#if defined(__SANITIZE_ADDRESS__)
    // ASan's quarantine and shadow memory make RSS no measure of what the
    // server holds; the bound is checked in the Release run.
    (void)during;
    (void)before;
#else
    CHECK(during - before < 16 * 1024); // far below the file's 48 MiB
#endif
    std::string rest;
    auto r = read_response(c, rest, false, 20000ms);
    CHECK(r.status == 200);
    CHECK(r.body.size() == huge.size());
    CHECK(r.body == huge);
  }

  TEST_CASE("without --root, / is a small page and the rest 404") {
    server srv{{}};
    auto a = fetch(srv.port, get("/"));
    CHECK(a.status == 200);
    CHECK(a.body.find("kamaelia-caf") != std::string::npos);
    CHECK(fetch(srv.port, get("/x")).status == 404);
  }

  TEST_CASE("the access log has one CLF line per response, client first") {
    site s;
    auto log = s.base + "/access.log";
    {
      server srv{{"--root=" + s.root, "--access-log=" + log}};
      fetch(srv.port, get("/small.txt"));
      fetch(srv.port, get("/nope"));
      fetch(srv.port, "HEAD /k16.bin HTTP/1.1\r\nHost: t\r\n\r\n", true);
      std::this_thread::sleep_for(100ms); // written before the answer; read now
      std::ifstream f{log};
      std::vector<std::string> lines;
      std::string line;
      while (std::getline(f, line))
        lines.push_back(line);
      REQUIRE(lines.size() == 3);
      CHECK(lines[0].rfind("127.0.0.1 - - [", 0) == 0);
      CHECK(lines[0].find("\"GET /small.txt HTTP/1.1\" 200 100") != std::string::npos);
      CHECK(lines[1].find("\"GET /nope HTTP/1.1\" 404 -") != std::string::npos);
      CHECK(lines[2].find("\"HEAD /k16.bin HTTP/1.1\" 200 -") != std::string::npos);
    }
  }

  TEST_CASE("bad http options exit 2 with one line") {
    site s;
    for (auto arg :
         {std::string{"--root=/nonexistent/dir"}, "--root=" + s.root + "/small.txt",
          std::string{"--access-log=/nonexistent/dir/log"},
          std::string{"--header-timeout=-1"}}) {
      CAPTURE(arg);
      child_process p{bin_path("kam-serve"), {"--protocol=http", "--port=0", arg}};
      CHECK(p.wait_exit() == 2);
      CHECK(std::count(p.err().begin(), p.err().end(), '\n') == 1);
    }
  }
}
