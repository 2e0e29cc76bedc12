// The stream's PROXY header phase (stream::read_proxy_header) on a
// socketpair: nothing reaches the owner before start(), what followed the
// header comes first after it, refusals close and report null.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "runtime/io/detail/stream.hpp"
#include "runtime/io/proxy/parser.hpp"

using namespace kam::runtime;
using namespace kam::runtime::io;
using namespace kam::runtime::io::detail;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

struct events : stream_events {
  std::string data;
  std::vector<std::string> log;
  void on_data(bytes&& d) override {
    data.append(d.begin(), d.end());
    log.push_back("data");
  }
  void on_eof() override { log.push_back("eof"); }
  void on_drained() override { log.push_back("drained"); }
  void on_watermark(bool) override {}
  void on_closed(shutdown_reason why) override {
    log.push_back(std::string{"closed:"} + to_string(why));
  }
};

struct fixture {
  asio::io_context ioc{1};
  int peer = -1;
  std::shared_ptr<stream> s;
  std::shared_ptr<events> ev = std::make_shared<events>();
  int calls = 0;
  std::optional<proxy::header> got; ///< set when done() had a header

  fixture() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    peer = fds[1];
    ::fcntl(peer, F_SETFL, ::fcntl(peer, F_GETFL) | O_NONBLOCK);
    stream::socket_type sock{ioc, asio::generic::stream_protocol{AF_UNIX, 0}, fds[0]};
    s = std::make_shared<stream>(std::move(sock), listen_options{});
  }
  ~fixture() {
    if (peer >= 0)
      ::close(peer);
  }

  void on_io(const std::function<void()>& f) {
    asio::post(ioc, f);
    ioc.restart();
    ioc.poll();
  }
  bool run_until(const std::function<bool()>& pred,
                 std::chrono::milliseconds t = 2000ms) {
    auto deadline = std::chrono::steady_clock::now() + t;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_one_for(5ms);
    }
    return pred();
  }
  void send(const std::string& x) {
    REQUIRE(::send(peer, x.data(), x.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(x.size()));
  }
  void read_header(std::chrono::milliseconds timeout = 2000ms) {
    on_io([&] {
      s->read_proxy_header(timeout, [this](const proxy::header* h) {
        ++calls;
        if (h != nullptr)
          got = *h;
      });
    });
  }
  void start() {
    on_io([&] {
      s->attach(ev);
      s->start();
    });
  }
  /// Whether the peer sees EOF (the stream closed its socket).
  bool peer_sees_eof() {
    return run_until([&] {
      char b[64];
      return ::recv(peer, b, sizeof(b), 0) == 0;
    });
  }
};

} // namespace

TEST_SUITE("runtime/io/stream PROXY header") {
  TEST_CASE("a header in pieces; the bytes after it wait for start() and come first") {
    fixture f;
    f.send("PROXY TCP4 192.0.2.7 ");
    f.read_header();
    CHECK(f.calls == 0);
    f.send("127.0.0.1 5555 80\r\nfirst");
    REQUIRE(f.run_until([&] { return f.calls == 1; }));
    REQUIRE(f.got);
    CHECK(f.got->src_address == "192.0.2.7");
    CHECK(f.got->src_port == 5555);
    f.send(" second");
    f.run_until([] { return false; }, 50ms); // nothing is read before start()
    CHECK(f.ev->log.empty());
    f.start();
    REQUIRE(f.run_until([&] { return f.ev->data == "first second"; }));
    CHECK(f.ev->log.front() == "data");
  }

  TEST_CASE("header, data and FIN in one go: the data, then eof") {
    fixture f;
    f.send("PROXY UNKNOWN\r\nall of it");
    ::shutdown(f.peer, SHUT_WR);
    f.read_header();
    REQUIRE(f.calls == 1); // tried at once: it was there
    REQUIRE(f.got);
    CHECK(f.got->local);
    f.start();
    REQUIRE(f.run_until([&] { return f.ev->log.size() >= 2; }));
    CHECK(f.ev->data == "all of it");
    CHECK(f.ev->log == std::vector<std::string>{"data", "eof"});
  }

  TEST_CASE("drain() right after start() still delivers what followed the header") {
    fixture f;
    f.send("PROXY UNKNOWN\r\nkept");
    f.read_header();
    REQUIRE(f.calls == 1);
    f.on_io([&] {
      f.s->attach(f.ev);
      f.s->start();
      f.s->drain(); // before start()'s post ran
    });
    REQUIRE(
      f.run_until([&] { return !f.ev->log.empty() && f.ev->log.back() == "drained"; }));
    CHECK(f.ev->data == "kept");
  }

  TEST_CASE("malformed, truncated or late: closed, done(null), nothing delivered") {
    SUBCASE("malformed") {
      fixture f;
      f.send("GET / HTTP/1.1\r\n\r\n");
      f.read_header();
      CHECK(f.calls == 1);
      CHECK_FALSE(f.got);
      CHECK(f.peer_sees_eof());
    }
    SUBCASE("truncated") {
      fixture f;
      f.read_header();
      f.send("PROXY TCP4 1.2.3.4");
      ::shutdown(f.peer, SHUT_WR);
      REQUIRE(f.run_until([&] { return f.calls == 1; }));
      CHECK_FALSE(f.got);
    }
    SUBCASE("late") {
      fixture f;
      auto t0 = std::chrono::steady_clock::now();
      f.read_header(100ms);
      f.send("PROXY TCP4 1.2.3.4 "); // and no more
      REQUIRE(f.run_until([&] { return f.calls == 1; }));
      CHECK(std::chrono::steady_clock::now() - t0 >= 90ms);
      CHECK_FALSE(f.got);
      CHECK(f.peer_sees_eof());
    }
    SUBCASE("close_now() before the header: closed, done() not called") {
      fixture f;
      f.read_header(100ms);
      f.on_io([&] { f.s->close_now(shutdown_reason::server_shutdown); });
      f.run_until([] { return false; }, 200ms);
      CHECK(f.calls == 0);
      CHECK(f.peer_sees_eof());
    }
  }
}
