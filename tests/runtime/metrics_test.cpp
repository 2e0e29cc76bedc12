// The Prometheus text exposition writer: exact output, escaping, names
// checked, and Prometheus's own linter (promtool) accepting what it writes.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "runtime/metrics.hpp"

namespace {

using kam::runtime::exposition;

/// Runs `promtool check metrics` on `text`; returns its exit code and output.
std::pair<int, std::string> promtool(const std::string& text) {
  char path[] = "/tmp/kam-metrics-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  auto cmd = std::string{"promtool check metrics < "} + path + " 2>&1";
  std::string out;
  auto* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (auto n = std::fread(buf, 1, sizeof(buf), p))
    out.append(buf, n);
  int rc = ::pclose(p);
  std::remove(path);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

bool have_promtool() {
  return std::system("command -v promtool > /dev/null 2>&1") == 0;
}

} // namespace

TEST_SUITE("runtime/metrics") {
  TEST_CASE("families and samples render in the 0.0.4 text format") {
    exposition e;
    e.counter("kam_connections_accepted_total", "Connections accepted.", 42);
    e.gauge("kam_connections_active", "Connections open now.", 3);
    e.family("kam_http_requests_total", "counter", "HTTP responses by status class.")
      .sample("kam_http_requests_total", uint64_t{7}, {{"code", "2xx"}})
      .sample("kam_http_requests_total", uint64_t{1}, {{"code", "4xx"}});
    CHECK(e.str() == "# HELP kam_connections_accepted_total Connections accepted.\n"
                     "# TYPE kam_connections_accepted_total counter\n"
                     "kam_connections_accepted_total 42\n"
                     "# HELP kam_connections_active Connections open now.\n"
                     "# TYPE kam_connections_active gauge\n"
                     "kam_connections_active 3\n"
                     "# HELP kam_http_requests_total HTTP responses by status class.\n"
                     "# TYPE kam_http_requests_total counter\n"
                     "kam_http_requests_total{code=\"2xx\"} 7\n"
                     "kam_http_requests_total{code=\"4xx\"} 1\n");
  }

  TEST_CASE(
    "help text and label values are escaped; special floats spelled as Prometheus does") {
    exposition e;
    e.family("kam_x", "gauge", "a \\ and a\nnewline")
      .sample("kam_x", 0.5, {{"path", "say \"hi\"\\\n"}, {"k2", "v"}})
      .sample("kam_x", std::nan(""), {{"k", "nan"}})
      .sample("kam_x", HUGE_VAL, {{"k", "inf"}});
    CHECK(e.str() == "# HELP kam_x a \\\\ and a\\nnewline\n"
                     "# TYPE kam_x gauge\n"
                     "kam_x{path=\"say \\\"hi\\\"\\\\\\n\",k2=\"v\"} 0.5\n"
                     "kam_x{k=\"nan\"} NaN\n"
                     "kam_x{k=\"inf\"} +Inf\n");
  }

  TEST_CASE("a bad metric or label name, or type, is a programming error") {
    exposition e;
    CHECK_THROWS_AS(e.counter("1bad", "h", 1), std::invalid_argument);
    CHECK_THROWS_AS(e.counter("bad-name", "h", 1), std::invalid_argument);
    CHECK_THROWS_AS(e.family("kam_ok", "histogram", "h"), std::invalid_argument);
    CHECK_THROWS_AS(e.sample("kam_ok", 1.0, {{"a:b", "v"}}), std::invalid_argument);
    CHECK_NOTHROW(e.sample("kam_ok:sub", 1.0, {{"_a1", "v"}}));
  }

  TEST_CASE("promtool accepts what it writes (and rejects a broken document)") {
    if (!have_promtool()) {
      // CI installs it (scripts/bootstrap.sh): there its absence is a failure.
      REQUIRE_MESSAGE(std::getenv("CI") == nullptr,
                      "promtool missing (package prometheus)");
      MESSAGE("promtool not installed: skipped outside CI");
      return;
    }
    exposition e;
    e.counter("kam_connections_accepted_total", "Connections accepted.", 42);
    e.gauge("kam_connections_active", "Connections open now.", 3);
    e.family("kam_http_requests_total", "counter", "HTTP responses by status class.")
      .sample("kam_http_requests_total", uint64_t{7}, {{"code", "2xx"}});
    auto [rc, out] = promtool(e.str());
    CHECK_MESSAGE(rc == 0, out);
    CHECK_MESSAGE(out.empty(), out); // no lint findings either
    auto [bad_rc, bad_out] = promtool("kam_undocumented_total 1\n");
    CHECK(bad_rc != 0); // no HELP: promtool's linter complains
  }
}
