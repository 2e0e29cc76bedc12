// Ipc message types: names, equality and serialization (so they can cross nodes).
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "runtime/ipc.hpp"
#include "tests/support/test_system.hpp"

using namespace kam::runtime;
using kam::test::test_system;

namespace {

template <class T>
T round_trip(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto e1 = sink(x);
  REQUIRE(!e1);
  T y{};
  caf::binary_deserializer source{sys, buf};
  auto e2 = source(y);
  REQUIRE(!e2);
  return y;
}

} // namespace

TEST_SUITE("runtime.ipc") {

  TEST_CASE("every shutdown reason has a distinct name") {
    std::set<std::string> names;
    for (auto r : {shutdown_reason::peer_closed, shutdown_reason::reset,
                   shutdown_reason::error, shutdown_reason::timeout,
                   shutdown_reason::server_shutdown, shutdown_reason::closed})
      names.insert(to_string(r));
    CHECK(names.size() == 6);
    CHECK(std::string{to_string(shutdown_reason::timeout)} == "timeout");
  }

  TEST_CASE("socket_shutdown serializes with its reason") {
    test_system ts;
    auto y = round_trip(*ts, socket_shutdown{shutdown_reason::timeout});
    CHECK(y.reason == shutdown_reason::timeout);
  }

  TEST_CASE("connection_info serializes every address field") {
    test_system ts;
    connection_info x{7, "10.0.0.1", 4000, "::1", 1601, "127.0.0.5", 40000};
    auto y = round_trip(*ts, x);
    CHECK(y.id == 7);
    CHECK(y.peer_address == "10.0.0.1");
    CHECK(y.peer_port == 4000);
    CHECK(y.local_address == "::1");
    CHECK(y.local_port == 1601);
    CHECK(y.proxy_address == "127.0.0.5");
    CHECK(y.proxy_port == 40000);
  }

  TEST_CASE("Ipc types are registered under their kam:: names") {
    test_system ts;
    auto msg = caf::make_message(producer_finished{}, shutdown_microprocess{},
                                 server_shutdown{}, socket_shutdown{});
    auto text = caf::to_string(msg);
    CHECK(text.find("producer_finished") != std::string::npos);
    CHECK(text.find("socket_shutdown") != std::string::npos);
    CHECK(ts.sys->types().portable_name(caf::make_rtti_pair<shutdown_csa>()) ==
          "kam::shutdown_csa");
  }

} // TEST_SUITE
