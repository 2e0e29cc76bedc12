// Echo through the whole chassis over real loopback sockets.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>

#include "tests/support/echo_server.hpp"
#include "tests/support/tcp_client.hpp"

using namespace kam;
using namespace kam::test;

TEST_SUITE("chassis.server.echo") {

  TEST_CASE("one connection gets its bytes back") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(srv);
    CHECK(srv->port() != 0);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all("hello, kamaelia\n"));
    CHECK(c.recv_exact(16) == "hello, kamaelia\n");
  }

  TEST_CASE("a 1 MiB payload comes back byte-exact") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    auto data = random_bytes(1 << 20, 1);
    // Send and receive concurrently so neither side's buffers must hold it all.
    std::thread writer(
      [&] { CHECK(c.send_all(data, std::chrono::milliseconds(20000))); });
    auto back = c.recv_exact(data.size(), std::chrono::milliseconds(20000));
    writer.join();
    CHECK(back.size() == data.size());
    CHECK(back == data);
  }

  TEST_CASE("200 concurrent connections with random data in random chunk sizes") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(srv);
    constexpr size_t n = 200;
    std::mt19937 gen{42};
    std::vector<tcp_client> clients;
    std::vector<std::string> sent(n), got(n);
    std::vector<size_t> off(n, 0);
    for (size_t i = 0; i < n; ++i) {
      clients.emplace_back("127.0.0.1", srv->port());
      REQUIRE(clients.back().ok());
      sent[i] = random_bytes(1000 + gen() % 30000, static_cast<uint32_t>(i + 7));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool done = false;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      done = true;
      for (size_t i = 0; i < n; ++i) {
        if (off[i] < sent[i].size()) {
          auto len = std::min<size_t>(1 + gen() % 4096, sent[i].size() - off[i]);
          REQUIRE(clients[i].send_all(std::string_view(sent[i]).substr(off[i], len)));
          off[i] += len;
        }
        if (got[i].size() < sent[i].size()) {
          char buf[65536];
          auto r = ::recv(clients[i].fd(), buf, sizeof(buf), MSG_DONTWAIT);
          if (r > 0)
            got[i].append(buf, static_cast<size_t>(r));
          done = false;
        }
      }
    }
    for (size_t i = 0; i < n; ++i) {
      INFO("connection " << i);
      CHECK(got[i] == sent[i]);
    }
  }

  TEST_CASE("thousands of sequential connect/send/recv/close cycles") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(srv);
    constexpr int cycles = 3000;
    int ok = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (int i = 0; i < cycles && std::chrono::steady_clock::now() < deadline; ++i) {
      tcp_client c{"127.0.0.1", srv->port()};
      if (!c.ok())
        break;
      auto msg = "cycle " + std::to_string(i);
      if (c.send_all(msg) && c.recv_exact(msg.size()) == msg)
        ++ok;
    }
    CHECK(ok == cycles);
    CHECK(eventually([&] { return srv->stats().closed.load() == cycles; }));
    CHECK(srv->stats().accepted.load() == cycles);
  }

  TEST_CASE("an IPv6 listener echoes") {
    test_system ts;
    auto opts = loopback_options(1);
    opts.listen.host = "::1";
    auto srv = chassis::simple_server(*ts, echo_factory(), opts);
    if (!srv) {
      MESSAGE("no IPv6 loopback here: " << ts.sys->render(srv.error()));
      return;
    }
    tcp_client c{"::1", srv->port()};
    REQUIRE(c.ok());
    CHECK(round_trip(c, "six"));
  }

  TEST_CASE("more_complex_server's factory receives the connection's addresses") {
    test_system ts;
    std::mutex mtx;
    runtime::connection_info seen;
    auto factory = [&](caf::actor_system& sys, const runtime::connection_info& info) {
      std::lock_guard<std::mutex> g{mtx};
      seen = info;
      return sys.spawn(protocols::echo::handler);
    };
    auto srv = chassis::more_complex_server(*ts, factory, loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    CHECK(round_trip(c, "x"));
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    ::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&local), &len);
    std::lock_guard<std::mutex> g{mtx};
    CHECK(seen.peer_address == "127.0.0.1");
    CHECK(seen.peer_port == ntohs(local.sin_port));
    CHECK(seen.local_address == "127.0.0.1");
    CHECK(seen.local_port == srv->port());
    CHECK(seen.id != 0);
  }

} // TEST_SUITE
