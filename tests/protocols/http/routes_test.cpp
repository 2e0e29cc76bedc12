// The HTTP handler's route table (http::config::routes) in a chassis
// server over loopback: synchronous and asynchronous replies, pipelined
// requests answered in order behind a pending route, HEAD, counting by
// status class.
#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include <caf/all.hpp>
#include <doctest/doctest.h>

#include "protocols/http/handler.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/tcp_client.hpp"

using namespace kam;
using namespace kam::test;
using namespace std::chrono_literals;
namespace http = kam::protocols::http;

namespace {

using due_atom = caf::atom_constant<caf::atom("due")>;

/// Answers a string after `delay` (so a route that asks it replies late).
caf::behavior slow_answer(caf::event_based_actor* self, std::chrono::milliseconds delay) {
  auto pending =
    std::make_shared<std::deque<std::pair<std::string, caf::response_promise>>>();
  return {
    [=](const std::string& s) {
      pending->emplace_back(s, self->make_response_promise());
      self->delayed_send(self, delay, due_atom::value);
    },
    [=](due_atom) {
      auto [s, rp] = std::move(pending->front());
      pending->pop_front();
      rp.deliver(s);
    },
  };
}

struct routed_server {
  test_system ts;
  std::shared_ptr<http::counters> stats = std::make_shared<http::counters>();
  caf::actor helper;
  std::optional<chassis::server> srv;

  routed_server() {
    helper = (*ts).spawn(slow_answer, 150ms);
    auto cfg = std::make_shared<http::config>();
    cfg->stats = stats;
    cfg->routes.push_back({"/sync", [](runtime::component*, const http::request& r,
                                       const std::string& path, http::reply_fn reply) {
                             http::response resp;
                             resp.body = "sync " + path + " " + std::string{r.method};
                             resp.headers = "X-Route: sync\r\n";
                             reply(std::move(resp));
                           }});
    cfg->routes.push_back(
      {"/async", [h = helper](runtime::component* self, const http::request&,
                              const std::string&, http::reply_fn reply) {
         self->request(h, caf::infinite, std::string{"late"})
           .then([reply](const std::string& s) {
             reply(http::response{201, "text/plain", s, {}});
           });
       }});
    std::shared_ptr<const http::config> c = cfg;
    auto x = chassis::more_complex_server(
      *ts,
      [c](caf::actor_system& sys, const runtime::connection_info& info) {
        return sys.spawn(http::handler, c, info);
      },
      loopback_options(1));
    REQUIRE(x);
    srv.emplace(std::move(*x));
  }

  ~routed_server() {
    srv.reset(); // before the actor system
    caf::anon_send_exit(helper, caf::exit_reason::user_shutdown);
  }
};

std::string request(const std::string& path, const std::string& method = "GET",
                    bool close = false) {
  return method + " " + path + " HTTP/1.1\r\nHost: x\r\n" +
         (close ? "Connection: close\r\n" : "") + "\r\n";
}

/// Reads `n` complete responses (Content-Length framed); returns them.
std::vector<std::string> read_responses(tcp_client& c, size_t n, bool head = false) {
  std::vector<std::string> out;
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + 5000ms;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = buf.find("Content-Length: ");
      size_t len = cl < end ? std::stoul(buf.substr(cl + 16)) : 0;
      if (head)
        len = 0;
      if (buf.size() >= end + 4 + len) {
        out.push_back(buf.substr(0, end + 4 + len));
        buf.erase(0, end + 4 + len);
        continue;
      }
    }
    buf += c.recv_some(200ms);
  }
  return out;
}

} // namespace

TEST_SUITE("protocols.http.routes") {
  TEST_CASE("a route answers its exact path; other paths are the handler's own") {
    routed_server s;
    tcp_client c{"127.0.0.1", s.srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all(request("/sync?x=1") + request("/sync/") + request("/")));
    auto rs = read_responses(c, 3);
    REQUIRE(rs.size() == 3);
    CHECK(rs[0].rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(rs[0].find("X-Route: sync\r\n") != std::string::npos);
    CHECK(rs[0].find("\r\n\r\nsync /sync GET") != std::string::npos);
    CHECK(rs[1].rfind("HTTP/1.1 404", 0) == 0); // not the exact path
    CHECK(rs[2].rfind("HTTP/1.1 200", 0) == 0); // the built-in page
    CHECK(rs[2].find("kamaelia-caf") != std::string::npos);
  }

  TEST_CASE("a late reply keeps pipelined answers in order") {
    routed_server s;
    tcp_client c{"127.0.0.1", s.srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all(request("/async") + request("/sync") + request("/async") +
                       request("/missing")));
    auto rs = read_responses(c, 4);
    REQUIRE(rs.size() == 4);
    CHECK(rs[0].rfind("HTTP/1.1 201", 0) == 0);
    CHECK(rs[0].find("\r\n\r\nlate") != std::string::npos);
    CHECK(rs[1].find("\r\n\r\nsync /sync") != std::string::npos);
    CHECK(rs[2].rfind("HTTP/1.1 201", 0) == 0);
    CHECK(rs[3].rfind("HTTP/1.1 404", 0) == 0);
    // The connection is still usable after them.
    REQUIRE(c.send_all(request("/sync")));
    CHECK(read_responses(c, 1).size() == 1);
    CHECK(eventually([&] { return s.stats->responses[1].load() == 4; }));
    CHECK(s.stats->responses[3].load() == 1);
  }

  TEST_CASE("HEAD on a route sends the headers without the body") {
    routed_server s;
    tcp_client c{"127.0.0.1", s.srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all(request("/sync", "HEAD")));
    auto rs = read_responses(c, 1, true);
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].find("Content-Length: 15\r\n") != std::string::npos); // "sync /sync HEAD"
    CHECK(rs[0].substr(rs[0].size() - 4) == "\r\n\r\n");
    CHECK(c.recv_some(200ms).empty()); // no body follows
    REQUIRE(c.send_all(request("/sync")));
    auto rest = read_responses(c, 1);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].find("\r\n\r\nsync /sync GET") != std::string::npos);
  }

  TEST_CASE("Connection: close after a late reply closes once it is sent") {
    routed_server s;
    tcp_client c{"127.0.0.1", s.srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all(request("/async", "GET", true)));
    bool eof = false;
    auto all = c.recv_until_eof(eof, 5000ms);
    CHECK(eof);
    CHECK(all.rfind("HTTP/1.1 201", 0) == 0);
    CHECK(all.find("Connection: close\r\n") != std::string::npos);
    CHECK(all.find("\r\n\r\nlate") != std::string::npos);
  }

  TEST_CASE("the peer's FIN while a reply is pending still gets the answer") {
    routed_server s;
    tcp_client c{"127.0.0.1", s.srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all(request("/async")));
    c.shutdown_write();
    bool eof = false;
    auto all = c.recv_until_eof(eof, 5000ms);
    CHECK(eof);
    CHECK(all.find("\r\n\r\nlate") != std::string::npos);
  }
}
