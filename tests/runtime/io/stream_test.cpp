// runtime/io/detail/stream on a socketpair, no actors: the stream alone, its
// events recorded, the test thread running its io_context.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "runtime/io/connection_gate.hpp"
#include "runtime/io/detail/stream.hpp"

using namespace kam::runtime;
using namespace kam::runtime::io;
using namespace kam::runtime::io::detail;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

/// Everything a stream told its owner, in order.
struct recorder : stream_events {
  std::string data;
  std::vector<std::string> log;
  void on_data(bytes&& d) override {
    data.append(d.begin(), d.end());
    log.push_back("data");
  }
  void on_eof() override { log.push_back("eof"); }
  void on_drained() override { log.push_back("drained"); }
  void on_watermark(bool high) override { log.push_back(high ? "high" : "low"); }
  void on_closed(shutdown_reason why) override {
    log.push_back(std::string{"closed:"} + to_string(why));
  }
  bool saw(const std::string& x) const {
    for (auto& e : log)
      if (e == x)
        return true;
    return false;
  }
  int count(const std::string& x) const {
    int n = 0;
    for (auto& e : log)
      n += e == x;
    return n;
  }
};

/// A stream on one end of a socketpair; the test holds the other end (`peer`).
struct fixture {
  asio::io_context ioc{1};
  int peer = -1;
  std::shared_ptr<stream> s;
  std::shared_ptr<recorder> rec = std::make_shared<recorder>();

  explicit fixture(listen_options opts = {},
                   std::shared_ptr<connection_gate> gate = nullptr, int sndbuf = 0) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    peer = fds[1];
    if (sndbuf != 0) {
      ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
      ::setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
    }
    ::fcntl(peer, F_SETFL, ::fcntl(peer, F_GETFL) | O_NONBLOCK);
    stream::socket_type sock{ioc, asio::generic::stream_protocol{AF_UNIX, 0}, fds[0]};
    s = std::make_shared<stream>(std::move(sock), opts, std::move(gate));
    on_io([&] { s->attach(rec); });
  }

  ~fixture() {
    if (peer >= 0)
      ::close(peer);
  }

  /// Runs `f` on the stream's thread (inside run()), then what it set off.
  void on_io(const std::function<void()>& f) {
    asio::post(ioc, f);
    ioc.restart();
    ioc.poll();
  }

  /// Runs the io_context until `pred` holds or `timeout` passes.
  bool run_until(const std::function<bool()>& pred,
                 std::chrono::milliseconds timeout = 2000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_one_for(5ms);
    }
    return pred();
  }

  void peer_send(const std::string& x) {
    REQUIRE(::send(peer, x.data(), x.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(x.size()));
  }

  /// Reads what the peer can read now; sets `eof` when it read the FIN.
  std::string peer_read(bool* eof = nullptr) {
    std::string out;
    char buf[65536];
    for (;;) {
      auto n = ::recv(peer, buf, sizeof(buf), 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 && eof != nullptr)
        *eof = true;
      return out;
    }
  }
};

std::string pattern(size_t n, size_t seed) {
  std::string x(n, '\0');
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return x;
}

} // namespace

TEST_SUITE("runtime/io/stream") {
  TEST_CASE("bytes the peer sends arrive as on_data; the peer's FIN as on_eof") {
    fixture f;
    f.on_io([&] { f.s->start(); });
    f.peer_send("hello");
    CHECK(f.run_until([&] { return f.rec->data == "hello"; }));
    ::shutdown(f.peer, SHUT_WR);
    CHECK(f.run_until([&] { return f.rec->saw("eof"); }));
    CHECK(f.s->state() == stream::phase::input_over);
  }

  TEST_CASE("after a read the next one is tried once queued work ran, else epoll waits") {
    fixture f;
    f.on_io([&] { f.s->start(); });
    f.peer_send("a");
    CHECK(f.run_until([&] { return f.rec->data == "a"; }));
    // Sent while the stream's next read is queued: read by that job.
    f.peer_send("b");
    CHECK(f.run_until([&] { return f.rec->data == "ab"; }));
    // That read found the socket empty and armed a readiness wait: bytes
    // that come much later still arrive, and so does the FIN.
    f.run_until([] { return false; }, 50ms);
    f.peer_send("c");
    CHECK(f.run_until([&] { return f.rec->data == "abc"; }));
    ::shutdown(f.peer, SHUT_WR);
    CHECK(f.run_until([&] { return f.rec->saw("eof"); }));
    CHECK(f.rec->count("data") == 3);
  }

  TEST_CASE("nothing is read before start()") {
    fixture f;
    f.peer_send("early");
    f.run_until([] { return false; }, 50ms);
    CHECK(f.rec->log.empty());
    f.on_io([&] { f.s->start(); });
    CHECK(f.run_until([&] { return f.rec->data == "early"; }));
  }

  TEST_CASE("writes keep their order through direct writes, partial writes and writev") {
    listen_options opts;
    opts.write_high_watermark = 1 << 30; // no flow control in this test
    opts.write_hard_limit = 1 << 30;
    fixture f{opts, nullptr, 4096};
    std::string sent;
    bool queued_some = false;
    // Many buffers of odd sizes, the peer not reading: the socket buffer
    // fills, the rest is queued and later written with writev.
    f.on_io([&] {
      for (size_t i = 0; i < 200; ++i) {
        auto x = pattern(1 + (i * 131) % 3000, i);
        sent += x;
        f.s->write(to_bytes(x));
        queued_some = queued_some || f.s->queued() > 0;
      }
    });
    CHECK(queued_some);
    std::string got;
    CHECK(f.run_until([&] {
      got += f.peer_read();
      return got.size() >= sent.size();
    }));
    CHECK(got == sent);
    CHECK(f.s->queued() == 0);
  }

  TEST_CASE("watermarks: high once past the high mark, low once below the low mark") {
    listen_options opts;
    opts.write_high_watermark = 64 * 1024;
    opts.write_low_watermark = 16 * 1024;
    opts.write_hard_limit = 1 << 30;
    fixture f{opts, nullptr, 4096};
    f.on_io([&] {
      for (int i = 0; i < 40; ++i)
        f.s->write(to_bytes(pattern(4096, static_cast<size_t>(i))));
    });
    CHECK(f.rec->count("high") == 1);
    CHECK(f.rec->count("low") == 0);
    size_t got = 0;
    CHECK(f.run_until([&] {
      got += f.peer_read().size();
      return got == 40 * 4096;
    }));
    CHECK(f.rec->count("high") == 1);
    CHECK(f.rec->count("low") == 1);
    CHECK(f.rec->log == std::vector<std::string>{"high", "low"});
  }

  TEST_CASE("past the hard limit the stream stops reading until the queue is low") {
    listen_options opts;
    opts.write_high_watermark = 32 * 1024;
    opts.write_low_watermark = 8 * 1024;
    opts.write_hard_limit = 64 * 1024;
    fixture f{opts, nullptr, 4096};
    f.on_io([&] {
      f.s->start();
      for (int i = 0; i < 40; ++i)
        f.s->write(to_bytes(pattern(4096, 1)));
    });
    // A read event now finds the queue past the hard limit: no new wait.
    f.peer_send("first");
    f.run_until([&] { return !f.rec->data.empty(); }, 500ms);
    f.peer_send("second");
    f.run_until([] { return false; }, 100ms);
    CHECK(f.rec->data.find("second") == std::string::npos);
    size_t got = 0;
    CHECK(f.run_until([&] {
      got += f.peer_read().size();
      return f.rec->data.find("second") != std::string::npos;
    }));
    CHECK(f.s->queued() < opts.write_low_watermark);
  }

  TEST_CASE("half-close: after the peer's FIN writes go on, close_graceful closes") {
    fixture f;
    f.on_io([&] { f.s->start(); });
    ::shutdown(f.peer, SHUT_WR);
    CHECK(f.run_until([&] { return f.rec->saw("eof"); }));
    f.on_io([&] {
      f.s->write(to_bytes("reply"));
      f.s->close_graceful();
    });
    // The peer's FIN was read: no linger, closed right after the flush.
    CHECK(f.run_until([&] { return f.s->state() == stream::phase::closed; }));
    CHECK(f.rec->log.back() == "closed:closed");
    bool eof = false;
    CHECK(f.peer_read(&eof) == "reply");
    CHECK(eof);
  }

  TEST_CASE("close_graceful flushes, sends FIN, lingers until the peer's FIN") {
    fixture f;
    f.on_io([&] {
      f.s->start();
      f.s->write(to_bytes("bye"));
      f.s->close_graceful();
    });
    CHECK(f.run_until([&] { return f.s->state() == stream::phase::lingering; }));
    CHECK(f.rec->log.back() == "closed:closed");
    bool eof = false;
    CHECK(f.peer_read(&eof) == "bye");
    CHECK(eof);
    f.peer_send("ignored"); // discarded while lingering
    f.run_until([] { return false; }, 50ms);
    CHECK(f.rec->data.empty());
    CHECK(f.s->state() == stream::phase::lingering);
    ::shutdown(f.peer, SHUT_WR);
    CHECK(f.run_until([&] { return f.s->state() == stream::phase::closed; }));
  }

  TEST_CASE("a lingering stream closes after `linger` without the peer's FIN") {
    listen_options opts;
    opts.linger = 50ms;
    fixture f{opts};
    f.on_io([&] {
      f.s->start();
      f.s->close_graceful();
    });
    CHECK(f.s->state() == stream::phase::lingering);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(f.run_until([&] { return f.s->state() == stream::phase::closed; }));
    CHECK(std::chrono::steady_clock::now() - t0 >= 40ms);
  }

  TEST_CASE(
    "drain delivers what the peer already sent, then on_drained; later bytes not") {
    fixture f;
    f.on_io([&] { f.s->start(); });
    f.peer_send("already sent");
    // The readiness wait may have completed already: drain still reads it.
    f.on_io([&] { f.s->drain(); });
    CHECK(f.rec->data == "already sent");
    CHECK(f.rec->log == std::vector<std::string>{"data", "drained"});
    f.peer_send("late");
    f.run_until([] { return false; }, 50ms);
    CHECK(f.rec->data == "already sent");
    CHECK(f.s->state() == stream::phase::input_over);
  }

  TEST_CASE("drain before start reports on_drained without reading") {
    fixture f;
    f.peer_send("x");
    f.on_io([&] { f.s->drain(); });
    CHECK(f.rec->log == std::vector<std::string>{"drained"});
    f.on_io([&] { f.s->start(); }); // ignored: input is over
    f.run_until([] { return false; }, 50ms);
    CHECK(f.rec->data.empty());
  }

  TEST_CASE("close_now drops queued output, releases the gate slot, reports once") {
    auto gate = std::make_shared<connection_gate>(1);
    REQUIRE(gate->try_reserve());
    listen_options opts;
    opts.write_hard_limit = 1 << 30;
    opts.write_high_watermark = 1 << 30;
    fixture f{opts, gate, 4096};
    f.on_io([&] {
      f.s->start();
      f.s->write(to_bytes(pattern(200000, 3)));
      CHECK(f.s->queued() > 0);
      f.s->close_now(shutdown_reason::error);
      f.s->close_now(shutdown_reason::error);
    });
    CHECK(f.s->state() == stream::phase::closed);
    CHECK(f.s->queued() == 0);
    CHECK(gate->open() == 0);
    CHECK(f.rec->count("closed:error") == 1);
    f.on_io([&] { f.s->write(to_bytes("after")); }); // dropped, no crash
  }

  TEST_CASE("idle timeout closes a silent stream with timeout; activity defers it") {
    listen_options opts;
    opts.idle_timeout = 150ms;
    fixture f{opts};
    f.on_io([&] { f.s->start(); });
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 4; ++i) { // 4 x 60 ms of activity > the timeout
      f.run_until([] { return false; }, 60ms);
      f.peer_send("k");
    }
    CHECK_FALSE(f.rec->saw("closed:timeout"));
    CHECK(f.run_until([&] { return f.rec->saw("closed:timeout"); }));
    CHECK(std::chrono::steady_clock::now() - t0 >= 350ms);
    CHECK(f.s->state() == stream::phase::closed);
  }

  TEST_CASE("a read deadline closes unless bytes arrive in time; bytes meet it") {
    {
      fixture f;
      f.on_io([&] {
        f.s->start();
        f.s->read_deadline(50ms);
      });
      CHECK(f.run_until([&] { return f.rec->saw("closed:timeout"); }));
    }
    {
      fixture f;
      f.on_io([&] {
        f.s->start();
        f.s->read_deadline(100ms);
      });
      f.peer_send("in time");
      f.run_until([] { return false; }, 250ms);
      CHECK_FALSE(f.rec->saw("closed:timeout"));
      CHECK(f.s->state() == stream::phase::reading);
    }
  }

  TEST_CASE("a call off the stream's I/O thread aborts the process") {
    auto pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::signal(SIGABRT, SIG_DFL); // not doctest's crash report
      ::close(2);                    // nor the expected message in the test log
      fixture f;
      f.s->write(to_bytes("not from here")); // not inside the io_context's run()
      ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
  }
}
