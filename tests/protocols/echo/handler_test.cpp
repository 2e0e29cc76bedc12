// The echo handler driven in memory by the harness: no sockets.
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "protocols/echo/handler.hpp"
#include "runtime/harness.hpp"
#include "tests/support/test_system.hpp"

using namespace kam::runtime;
using kam::protocols::echo::handler;
using kam::test::test_system;

TEST_SUITE("protocols.echo.handler") {

  TEST_CASE("bytes on inbox come out on outbox unchanged and in order") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(handler)};
    std::string all;
    for (int i = 0; i < 50; ++i) {
      auto chunk =
        std::string(static_cast<size_t>(i + 1), static_cast<char>('a' + i % 26));
      all += chunk;
      h.send_text(inbox, chunk);
    }
    CHECK(h.read_text(outbox, all.size()) == all);
  }

  TEST_CASE("binary bytes including NUL survive") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(handler)};
    std::string bin("\0\xff\x01\0", 4);
    h.send_text(inbox, bin);
    CHECK(h.read_text(outbox, 4) == bin);
  }

  TEST_CASE("producer_finished ends it after passing producer_finished on signal") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(handler)};
    h.send_text(inbox, "last");
    h.send(control, producer_finished{});
    CHECK(h.read_text(outbox, 4) == "last");
    CHECK(h.next_as<producer_finished>(signal).has_value());
    auto reason = h.wait_for_exit();
    REQUIRE(reason.has_value());
    CHECK(!*reason);
  }

  TEST_CASE("shutdown_microprocess ends it, passing shutdown_microprocess on signal") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(handler)};
    h.send(control, shutdown_microprocess{});
    CHECK(h.next_as<shutdown_microprocess>(signal).has_value());
    CHECK(h.wait_for_exit().has_value());
  }

  TEST_CASE("socket_shutdown (peer closed) ends it with producer_finished on signal") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(handler)};
    h.send(control, socket_shutdown{shutdown_reason::peer_closed});
    CHECK(h.next_as<producer_finished>(signal).has_value());
    CHECK(h.wait_for_exit().has_value());
  }

  TEST_CASE("it stays alive while no control message comes") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(handler)};
    h.send_text(inbox, "x");
    CHECK(h.read_text(outbox, 1) == "x");
    CHECK(!h.wait_for_exit(std::chrono::milliseconds(100)).has_value());
  }

} // TEST_SUITE
