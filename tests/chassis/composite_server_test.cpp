// Composite handlers behind the chassis, over real loopback sockets.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "chassis/graphline.hpp"
#include "chassis/pipeline.hpp"
#include "chassis/server.hpp"
#include "protocols/lines/framer.hpp"
#include "protocols/lines/joiner.hpp"
#include "protocols/lines/upper.hpp"
#include "protocols/lines/upper_lines.hpp"
#include "tests/chassis/composite_test_support.hpp"
#include "tests/support/tcp_client.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;
using namespace std::chrono_literals;

namespace {

chassis::server_options options() {
  chassis::server_options opts;
  opts.listen.host = "127.0.0.1";
  opts.listen.port = 0;
  opts.listen.threads = 1;
  opts.drain_timeout = 3000ms;
  return opts;
}

/// The uppercase line server: pipeline(framer, upper, joiner).
chassis::protocol_factory upper_lines(size_t max_line = 64) {
  return [max_line](caf::actor_system& sys) {
    return protocols::lines::upper_lines(sys, max_line);
  };
}

/// The same as a graphline, with its own signal.
chassis::protocol_factory upper_lines_graph() {
  return [](caf::actor_system& sys) {
    using namespace protocols::lines;
    return chassis::graphline(sys,
                              {{"framer", sys.spawn(framer, size_t{64})},
                               {"upper", sys.spawn(upper)},
                               {"joiner", sys.spawn(joiner)}},
                              {{{"self", inbox}, {"framer", inbox}},
                               {{"self", control}, {"framer", control}},
                               {{"framer", outbox}, {"upper", inbox}},
                               {{"framer", signal}, {"upper", control}},
                               {{"upper", outbox}, {"joiner", inbox}},
                               {{"upper", signal}, {"joiner", control}},
                               {{"joiner", outbox}, {"self", outbox}},
                               {{"joiner", signal}, {"self", signal}}});
  };
}

} // namespace

TEST_SUITE("chassis.composite_server") {

  TEST_CASE("an uppercase line server built as a pipeline") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, upper_lines(), options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all("hello\r\nwor"));
    CHECK(c.recv_exact(6) == "HELLO\n");
    REQUIRE(c.send_all("ld\n"));
    CHECK(c.recv_exact(6) == "WORLD\n");
    // Half-close: the unterminated last line still comes back, then EOF.
    REQUIRE(c.send_all("tail"));
    c.shutdown_write();
    bool eof = false;
    CHECK(c.recv_until_eof(eof) == "TAIL\n");
    CHECK(eof);
  }

  TEST_CASE("the same server built as a graphline") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, upper_lines_graph(), options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all("abc\ndef\n"));
    CHECK(c.recv_exact(8) == "ABC\nDEF\n");
    c.shutdown_write();
    bool eof = false;
    CHECK(c.recv_until_eof(eof).empty());
    CHECK(eof);
  }

  TEST_CASE("an over-long line closes the connection after the lines before it") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, upper_lines(8), options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all("ok\nthis line is too long\nnever\n"));
    bool eof = false;
    CHECK(c.recv_until_eof(eof) == "OK\n");
    CHECK(eof);
  }

  TEST_CASE("50 connections, 200 lines each, in order") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, upper_lines(), options());
    REQUIRE(srv);
    constexpr size_t conns = 50;
    constexpr int lines = 200;
    std::vector<tcp_client> clients;
    std::string sent, expected;
    for (int i = 0; i < lines; ++i) {
      sent += "line number " + std::to_string(i) + "\n";
      expected += "LINE NUMBER " + std::to_string(i) + "\n";
    }
    for (size_t i = 0; i < conns; ++i) {
      clients.emplace_back("127.0.0.1", srv->port());
      REQUIRE(clients.back().ok());
    }
    // Odd sizes so lines split across reads.
    for (size_t off = 0; off < sent.size(); off += 37)
      for (auto& c : clients)
        REQUIRE(c.send_all(std::string_view(sent).substr(off, 37)));
    for (size_t i = 0; i < conns; ++i) {
      INFO("connection " << i);
      CHECK(clients[i].recv_exact(expected.size(), 10000ms) == expected);
    }
  }

  TEST_CASE("a failing stage closes only its connection; no actor is left over") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      auto srv = chassis::simple_server(
        sys,
        [](caf::actor_system& s) {
          return chassis::pipeline(s, s.spawn(quitter),
                                   s.spawn(prefixer, std::string(">")));
        },
        options());
      REQUIRE(srv);
      tcp_client bad{"127.0.0.1", srv->port()};
      tcp_client good{"127.0.0.1", srv->port()};
      REQUIRE(bad.ok());
      REQUIRE(good.ok());
      REQUIRE(good.send_all("1"));
      CHECK(good.recv_exact(2) == ">1");
      REQUIRE(bad.send_all("fail"));
      bool eof = false;
      bad.recv_until_eof(eof);
      CHECK(eof);
      REQUIRE(good.send_all("2"));
      CHECK(good.recv_exact(2) == ">2");
      CHECK(srv->stats().handler_failures.load() == 1);
      good.close();
      srv->shutdown();
      CHECK(srv->wait_for(5000ms));
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("server shutdown drains composite handlers") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      auto srv = chassis::simple_server(sys, upper_lines(), options());
      REQUIRE(srv);
      tcp_client c{"127.0.0.1", srv->port()};
      REQUIRE(c.ok());
      REQUIRE(c.send_all("x\n"));
      CHECK(c.recv_exact(2) == "X\n");
      REQUIRE(c.send_all("partial"));
      std::this_thread::sleep_for(50ms); // let the server read it
      srv->shutdown();
      bool eof = false;
      CHECK(c.recv_until_eof(eof) == "PARTIAL\n");
      CHECK(eof);
      CHECK(srv->wait_for(5000ms));
    }
    CHECK(running_becomes(sys, base));
  }

} // TEST_SUITE
