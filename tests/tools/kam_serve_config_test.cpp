// kam-serve's config file (CAF's INI format, --config-file=PATH): values are
// used, the command line wins, and every mistake in the file exits 2 with one
// line naming the file.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/process.hpp"
#include "tests/support/tcp_client.hpp"

namespace {

using namespace std::chrono_literals;
using kam::test::bin_path;
using kam::test::child_process;
using kam::test::port_of;
using kam::test::tcp_client;

/// A config file in /tmp, removed at scope end.
struct temp_config {
  std::string path;
  explicit temp_config(const std::string& text) {
    char name[] = "/tmp/kam-serve-config-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream{path} << text;
  }
  ~temp_config() { std::remove(path.c_str()); }
};

/// Runs kam-serve with `args` until it exits by itself.
kam::test::run_result run_to_exit(const std::vector<std::string>& args) {
  auto r = kam::test::run_to_exit(bin_path("kam-serve"), args);
  REQUIRE(r.code.has_value());
  return r;
}

size_t lines(const std::string& text) {
  return kam::test::count_lines(text);
}

/// Starts kam-serve with `args`; returns its port (0 if it did not listen).
uint16_t listen_port(child_process& p) {
  auto line = p.wait_for_line("listening on", 10000ms);
  return line ? port_of(*line) : 0;
}

} // namespace

TEST_SUITE("tools/kam_serve config file") {
  TEST_CASE("values from the file are used: protocol and port") {
    temp_config f{"[global]\nprotocol=\"upper-lines\"\nhost=\"127.0.0.1\"\nport=0\n"
                  "threads=1\n[scheduler]\nmax-threads=1\n"};
    child_process p{bin_path("kam-serve"), {"--config-file=" + f.path}};
    auto port = listen_port(p);
    REQUIRE(port != 0);
    tcp_client c{"127.0.0.1", port};
    REQUIRE(c.send_all("shout\n"));
    CHECK(c.recv_exact(6) == "SHOUT\n"); // upper-lines, not the default echo
  }

  TEST_CASE("the command line wins over the file") {
    temp_config f{"[global]\nprotocol=\"upper-lines\"\nport=1\n"};
    child_process p{bin_path("kam-serve"),
                    {"--config-file=" + f.path, "--protocol=echo", "--port=0"}};
    auto port = listen_port(p);
    REQUIRE(port != 0); // port=1 from the file would need root and fail
    tcp_client c{"127.0.0.1", port};
    REQUIRE(c.send_all("quiet\n"));
    CHECK(c.recv_exact(6) == "quiet\n");
  }

  TEST_CASE("the config file the Debian package ships is valid") {
    child_process p{
      bin_path("kam-serve"),
      {"--config-file=" KAM_SOURCE_DIR "/packaging/kam-serve.conf", "--port=0"}};
    CHECK(listen_port(p) != 0);
  }

  TEST_CASE("mistakes in the file exit 2 with one line naming the file and the cause") {
    struct row {
      const char* text;
      const char* named;
    };
    for (auto r : std::vector<row>{
           {"[global]\nportx=7\n", "unknown option 'portx'"},
           {"[global]\nport=abc\n", "line 2"},
           {"[global]\nport=70000\n", "--port=70000 is out of range"},
           {"[global]\nbackplane-relay-limit=0\n",
            "--backplane-relay-limit=0 is out of range"},
           {"[global]\nprotocol=\"nope\"\n", "unknown protocol 'nope'"},
         }) {
      CAPTURE(r.text);
      temp_config f{r.text};
      auto o = run_to_exit({"--config-file=" + f.path});
      CHECK(o.code == 2);
      CHECK_MESSAGE(lines(o.err) == 1, "stderr='" << o.err << "'");
      CHECK_MESSAGE(o.err.find(r.named) != std::string::npos, "stderr='" << o.err << "'");
      if (std::string{r.named}.find("=") == std::string::npos &&
          std::string{r.named}.find("protocol") == std::string::npos)
        CHECK_MESSAGE(o.err.find(f.path) != std::string::npos,
                      "stderr='" << o.err << "'");
    }
  }

  TEST_CASE("a missing config file exits 2 naming it") {
    auto o = run_to_exit({"--config-file=/nonexistent/kam-serve.conf"});
    CHECK(o.code == 2);
    CHECK(lines(o.err) == 1);
    CHECK(o.err.find("cannot open config file '/nonexistent/kam-serve.conf'") !=
          std::string::npos);
  }
}

TEST_SUITE("tools/kam_serve logging") {
  TEST_CASE("--log-level=info: lifecycle events on stderr, one timestamped line each") {
    child_process p{bin_path("kam-serve"), {"--port=0", "--log-level=info"}};
    auto port = listen_port(p);
    REQUIRE(port != 0);
    {
      tcp_client c{"127.0.0.1", port};
      REQUIRE(c.send_all("x"));
      CHECK(c.recv_exact(1) == "x");
    }
    p.signal(SIGTERM);
    auto rc = p.wait_exit(10000ms);
    REQUIRE(rc);
    CHECK(*rc == 0);
    auto& err = p.err();
    CHECK_MESSAGE(lines(err) == 3, err);
    CHECK(err.find(" info kam: serving echo on 127.0.0.1:" + std::to_string(port)) !=
          std::string::npos);
    CHECK(err.find(" info kam: SIGTERM: listeners closed, draining") !=
          std::string::npos);
    CHECK_MESSAGE(err.find(" info kam: stopped: 1 connections accepted, 1 closed") !=
                    std::string::npos,
                  err);
  }

  TEST_CASE("the default level (warning) keeps a clean run silent; a bad level exits 2") {
    child_process p{bin_path("kam-serve"), {"--port=0"}};
    REQUIRE(listen_port(p) != 0);
    p.signal(SIGTERM);
    REQUIRE(p.wait_exit(10000ms));
    CHECK(p.err().empty());
    auto o = run_to_exit({"--log-level=loud"});
    CHECK(o.code == 2);
    CHECK(lines(o.err) == 1);
    CHECK(o.err.find("--log-level") != std::string::npos);
  }
}

TEST_SUITE("tools/kam_serve config file") {
  TEST_CASE("the shipped config file sets every option --help lists") {
    child_process help{bin_path("kam-serve"), {"--help"}};
    REQUIRE(help.wait_exit(10000ms));
    help.wait_for_line("\x01never\x01", 100ms); // picks up stdout (the process ended)
    std::ifstream in{KAM_SOURCE_DIR "/packaging/kam-serve.conf"};
    std::string conf((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    REQUIRE_FALSE(conf.empty());
    size_t checked = 0;
    // CAF 0.17 prints the help (on stdout, whatever it says) as "  --name=<type> : text".
    std::istringstream lines_of{help.out() + help.err()};
    for (std::string line; std::getline(lines_of, line);) {
      auto dash = line.find("--");
      auto eq = line.find('=', dash);
      if (dash == std::string::npos || eq == std::string::npos || line.find("(-") == 2)
        continue;
      auto name = line.substr(dash + 2, eq - dash - 2);
      if (name == "config-file" || name.find('.') != std::string::npos)
        continue; // CAF's own
      ++checked;
      CHECK_MESSAGE(conf.find("\n" + name + "=") != std::string::npos,
                    "packaging/kam-serve.conf does not set '" << name << "'");
    }
    CHECK(checked >= 10);
  }
}
