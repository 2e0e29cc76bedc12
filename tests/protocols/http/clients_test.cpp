// Real clients against kam-serve --protocol=http: curl, ab, wrk, h2load
// (Debian packages installed by scripts/bootstrap.sh). A missing tool fails
// the test when CI=true, and skips it (with a message) elsewhere.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/protocols/http/http_support.hpp"

using namespace kam::test;
using namespace kam::test::http;

namespace {

bool have(const std::string& tool) {
  if (std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0)
    return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string{ci} == "true")
    FAIL(tool << " is missing (scripts/bootstrap.sh installs it)");
  MESSAGE(tool << " is missing: skipped (run scripts/bootstrap.sh)");
  return false;
}

std::string slurp(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Runs `cmd` (bounded by `timeout` in seconds), output to a file; returns it.
std::string run(const site& s, const std::string& cmd, int& rc, int timeout = 30) {
  auto out = s.base + "/tool.out";
  rc = std::system(
    ("timeout " + std::to_string(timeout) + " " + cmd + " >" + out + " 2>&1").c_str());
  return slurp(out);
}

} // namespace

TEST_SUITE("protocols.http.clients") {

  TEST_CASE("curl: files byte-exact, HEAD, ranges, 304") {
    if (!have("curl"))
      return;
    site s;
    server srv{{"--root=" + s.root}};
    int rc = 0;
    auto file = s.base + "/got";
    for (auto name : {"small.txt", "k16.bin", "big.bin"}) {
      CAPTURE(name);
      run(s, "curl -sf -o " + file + " " + srv.url(std::string{"/"} + name), rc);
      CHECK(rc == 0);
      CHECK(slurp(file) == slurp(s.root + "/" + name));
    }
    auto head = run(s, "curl -sfI " + srv.url("/k16.bin"), rc);
    CHECK(rc == 0);
    CHECK(head.find("Content-Length: 16384") != std::string::npos);
    run(s, "curl -sf -r 100-199 -o " + file + " " + srv.url("/big.bin"), rc);
    CHECK(slurp(file) == s.big.substr(100, 100));
    run(s, "curl -sf -r -10 -o " + file + " " + srv.url("/big.bin"), rc);
    CHECK(slurp(file) == s.big.substr(s.big.size() - 10));
    auto lm = fetch(srv.port, get("/small.txt")).field("last-modified");
    auto code =
      run(s,
          "curl -s -o /dev/null -w '%{http_code}' -H 'If-Modified-Since: " + lm + "' " +
            srv.url("/small.txt"),
          rc);
    CHECK(code == "304");
    // Several URLs on one connection (curl reuses it).
    auto two =
      run(s, "curl -sv " + srv.url("/small.txt") + " " + srv.url("/small.txt"), rc);
    CHECK(two.find("Re-using existing connection") != std::string::npos);
  }

  TEST_CASE("ab -n 2000 -c 20 -k: no failed request") {
    if (!have("ab"))
      return;
    site s;
    server srv{{"--root=" + s.root}};
    int rc = 0;
    auto out = run(s, "ab -q -n 2000 -c 20 -k " + srv.url("/small.txt"), rc);
    CAPTURE(out);
    CHECK(rc == 0);
    CHECK(out.find("Complete requests:      2000") != std::string::npos);
    CHECK(out.find("Failed requests:        0") != std::string::npos);
    CHECK(out.find("Keep-Alive requests:    2000") != std::string::npos);
    CHECK(out.find("Non-2xx") == std::string::npos);
  }

  TEST_CASE("wrk keep-alive run: no socket errors, all 2xx") {
    if (!have("wrk"))
      return;
    site s;
    server srv{{"--root=" + s.root}};
    int rc = 0;
    auto out = run(s, "wrk -t1 -c16 -d1 " + srv.url("/k16.bin"), rc);
    CAPTURE(out);
    CHECK(rc == 0);
    CHECK(out.find("Requests/sec") != std::string::npos);
    CHECK(out.find("Socket errors") == std::string::npos);
    CHECK(out.find("Non-2xx") == std::string::npos);
  }

  TEST_CASE("h2load --h1 -m 8 (pipelined): all 2xx") {
    if (!have("h2load"))
      return;
    site s;
    server srv{{"--root=" + s.root}};
    int rc = 0;
    auto out = run(s, "h2load --h1 -m 8 -n 4000 -c 8 " + srv.url("/small.txt"), rc);
    CAPTURE(out);
    CHECK(rc == 0);
    CHECK(out.find("4000 succeeded, 0 failed, 0 errored, 0 timeout") !=
          std::string::npos);
    CHECK(out.find("status codes: 4000 2xx") != std::string::npos);
  }
}
