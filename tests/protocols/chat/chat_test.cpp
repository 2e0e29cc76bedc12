// The chat server over real loopback sockets: in-process servers for the
// delivery rules, a kam-serve child for the slow-consumer memory bound and
// the command line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "chassis/server.hpp"
#include "protocols/chat/handler.hpp"
#include "runtime/backplane.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tcp_client.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace std::chrono_literals;
using test::tcp_client;

namespace {

/// A chat server in this process on its own backplane.
struct chat_server {
  explicit chat_server(size_t max_line = 65536, size_t hard_limit = 4 * 1024 * 1024) {
    auto b = runtime::backplane(*ts, "CHAT");
    REQUIRE(b);
    bp = *b;
    auto opts = test::loopback_options();
    opts.listen.close_slow_consumers = true;
    opts.listen.write_low_watermark = std::min<size_t>(hard_limit / 4, 256 * 1024);
    opts.listen.write_high_watermark = std::min<size_t>(hard_limit / 2, 1024 * 1024);
    opts.listen.write_hard_limit = hard_limit;
    protocols::chat::chat_options co{"CHAT", max_line};
    auto s = chassis::more_complex_server(
      *ts,
      [co](caf::actor_system& sys, const runtime::connection_info&) {
        return protocols::chat::handler(sys, co);
      },
      opts);
    REQUIRE(s);
    srv.emplace(std::move(*s));
  }
  ~chat_server() {
    srv->shutdown_now();
    srv->wait();
    srv.reset();
    caf::anon_send_exit(bp, caf::exit_reason::user_shutdown);
  }
  uint16_t port() const { return srv->port(); }

  test::test_system ts;
  caf::actor bp;
  std::optional<chassis::server> srv;
};

/// A chat client: a tcp_client plus the lines it received (sync lines of
/// join() left out).
struct client {
  explicit client(uint16_t port) : c("127.0.0.1", port) {
    REQUIRE(c.ok());
    int one = 1;
    ::setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }

  /// Reads for up to `wait`; appends complete lines; returns whether any
  /// byte came.
  bool pump(std::chrono::milliseconds wait) {
    auto got = c.recv_some(wait);
    if (got.empty())
      return false;
    buf += got;
    size_t start = 0;
    size_t pos;
    while ((pos = buf.find('\n', start)) != std::string::npos) {
      any = true;
      if (buf.compare(start, 4, "sync") != 0)
        lines.push_back(buf.substr(start, pos - start));
      start = pos + 1;
    }
    buf.erase(0, start);
    return true;
  }

  /// Pumps until `n` lines arrived or `timeout`.
  bool wait_lines(size_t n, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (lines.size() < n && std::chrono::steady_clock::now() < deadline)
      pump(20ms);
    return lines.size() >= n;
  }

  tcp_client c;
  std::string buf;
  std::vector<std::string> lines;
  bool any = false;
};

/// A new connection's subscription is wired a moment after accept; a line
/// published before then does not reach it (as a client joining a room).
/// So: the first two clients send "sync" lines until every client has
/// received one, i.e. every client is wired.
void join(std::vector<std::unique_ptr<client>>& cs) {
  REQUIRE(cs.size() >= 2);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    bool all = true;
    for (auto& c : cs)
      all = all && c->any;
    if (all)
      return;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    cs[0]->c.send_all("sync\n");
    cs[1]->c.send_all("sync\n");
    for (auto& c : cs)
      c->pump(c->any ? 0ms : 5ms);
  }
}

std::vector<std::unique_ptr<client>> connect(uint16_t port, size_t n) {
  std::vector<std::unique_ptr<client>> cs;
  for (size_t i = 0; i < n; ++i)
    cs.push_back(std::make_unique<client>(port));
  join(cs);
  // Let the last sync lines arrive and drop them.
  for (auto& c : cs)
    c->pump(50ms);
  return cs;
}

/// Sends `count` numbered lines of `text` from `from`, never more than
/// `lag` lines ahead of what `to` has read (pub/sub has no backpressure: a
/// reader that falls a hard limit behind is cut off, as the policy says).
void paced_send(client& from, client& to, const std::string& text, size_t count,
                size_t lag = 200) {
  size_t sent = 0;
  while (sent < count) {
    std::string chunk;
    size_t until = std::min(count, to.lines.size() + lag);
    for (; sent < until; ++sent)
      chunk += std::to_string(sent) + text + "\n";
    if (!chunk.empty())
      REQUIRE(from.c.send_all(chunk));
    auto before = to.lines.size();
    to.pump(1000ms);
    REQUIRE((to.lines.size() > before || sent < count || to.lines.size() == count));
  }
  to.wait_lines(count, 10000ms);
}

/// Checks `c` got exactly lines 0..count-1 of paced_send, in order.
void check_numbered(const client& c, const std::string& text, size_t count) {
  REQUIRE(c.lines.size() == count);
  bool ordered = true;
  for (size_t k = 0; k < count; ++k)
    ordered = ordered && c.lines[k] == std::to_string(k) + text;
  CHECK(ordered);
}

} // namespace

TEST_SUITE("protocols.chat") {

  TEST_CASE("a line reaches every other client and never its sender") {
    chat_server s;
    auto cs = connect(s.port(), 3);
    REQUIRE(cs[0]->c.send_all("hello\nworld\r\n"));
    for (int i : {1, 2}) {
      REQUIRE(cs[i]->wait_lines(2));
      CHECK(cs[i]->lines == std::vector<std::string>{"hello", "world"});
    }
    REQUIRE(cs[1]->c.send_all("from 1\n"));
    REQUIRE(cs[0]->wait_lines(1));
    CHECK(cs[0]->lines == std::vector<std::string>{"from 1"});
    REQUIRE(cs[2]->wait_lines(3));
    CHECK(cs[2]->lines.back() == "from 1");
    cs[0]->pump(200ms);
    cs[1]->pump(200ms);
    CHECK(cs[0]->lines.size() == 1);
    CHECK(cs[1]->lines.size() == 2);
  }

  TEST_CASE("a line sent in many segments arrives whole, never spliced with another") {
    chat_server s;
    auto cs = connect(s.port(), 3);
    std::string slow(700, 'a');
    for (size_t i = 0; i < slow.size(); ++i)
      slow[i] = static_cast<char>('a' + i % 26);
    size_t quick = 0;
    for (size_t i = 0; i < slow.size(); i += 7) {
      REQUIRE(cs[0]->c.send_all(slow.substr(i, 7)));
      REQUIRE(cs[1]->c.send_all("quick " + std::to_string(quick++) + "\n"));
      if (i % 70 == 0)
        std::this_thread::sleep_for(1ms);
    }
    REQUIRE(cs[0]->c.send_all("\n"));
    REQUIRE(cs[2]->wait_lines(quick + 1));
    size_t next_quick = 0;
    int whole = 0;
    for (auto& l : cs[2]->lines) {
      if (l == slow)
        ++whole;
      else
        CHECK(l == "quick " + std::to_string(next_quick++));
    }
    CHECK(whole == 1);
    CHECK(next_quick == quick);
  }

  TEST_CASE("an over-long line closes only its sender") {
    chat_server s{100};
    auto cs = connect(s.port(), 3);
    REQUIRE(cs[0]->c.send_all("fine\n" + std::string(101, 'x') + "\n"));
    CHECK(test::sees_eof(cs[0]->c));
    REQUIRE(cs[1]->wait_lines(1));
    CHECK(cs[1]->lines[0] == "fine");
    REQUIRE(cs[1]->c.send_all("still here\n"));
    REQUIRE(cs[2]->wait_lines(2));
    CHECK(cs[2]->lines == std::vector<std::string>{"fine", "still here"});
    cs[2]->pump(100ms);
    CHECK(cs[2]->lines.size() == 2); // nothing of the over-long line
  }

  TEST_CASE(
    "50 clients x 20 lines: every line reaches all 49 others in per-sender order") {
    chat_server s;
    const size_t n = 50;
    const size_t per = 20;
    auto cs = connect(s.port(), n);
    for (size_t k = 0; k < per; ++k)
      for (size_t i = 0; i < n; ++i)
        REQUIRE(
          cs[i]->c.send_all("c" + std::to_string(i) + " " + std::to_string(k) + "\n"));
    for (size_t j = 0; j < n; ++j) {
      REQUIRE(cs[j]->wait_lines((n - 1) * per, 10000ms));
      std::map<size_t, size_t> next;
      bool ordered = true;
      for (auto& l : cs[j]->lines) {
        auto sp = l.find(' ');
        auto from = std::stoul(l.substr(1, sp - 1));
        auto k = std::stoul(l.substr(sp + 1));
        ordered = ordered && from != j && k == next[from];
        next[from] = k + 1;
      }
      CHECK(ordered);
      CHECK(next.size() == n - 1);
      CHECK(cs[j]->lines.size() == (n - 1) * per);
    }
  }

  TEST_CASE("a client resetting mid-stream does not break delivery to the rest") {
    chat_server s;
    auto cs = connect(s.port(), 3);
    REQUIRE(test::eventually([&] {
      caf::scoped_actor self{*s.ts};
      size_t subs = 0;
      self->request(s.bp, 2s, runtime::bp_count_atom::value)
        .receive([&](size_t x) { subs = x; }, [](caf::error&) {});
      return subs == 3;
    }));
    REQUIRE(cs[0]->c.send_all("before reset\nhalf a li"));
    REQUIRE(cs[1]->wait_lines(1));
    cs[0]->c.reset();
    REQUIRE(cs[1]->c.send_all("after reset\n"));
    REQUIRE(test::eventually([&] {
      cs[2]->pump(10ms);
      // No order between senders: the reset client's cut line may come later.
      return std::find(cs[2]->lines.begin(), cs[2]->lines.end(), "after reset") !=
             cs[2]->lines.end();
    }));
    CHECK(cs[2]->lines[0] == "before reset");
    // The reset client's cut line may come as a line of its own, never
    // spliced into another.
    for (auto& l : cs[2]->lines)
      CHECK((l == "before reset" || l == "half a li" || l == "after reset"));
    // The reset connection's subscriber is gone from the backplane.
    CHECK(test::eventually([&] {
      caf::scoped_actor self{*s.ts};
      size_t subs = 0;
      self->request(s.bp, 2s, runtime::bp_count_atom::value)
        .receive([&](size_t x) { subs = x; }, [](caf::error&) {});
      return subs == 2;
    }));
  }

  TEST_CASE("a client that never reads is disconnected and counted; the others get all") {
    chat_server s{65536, 256 * 1024};
    auto cs = connect(s.port(), 3);
    // cs[2] never reads again. 16 MB: more than the kernel's socket
    // buffers on both sides can hold for it.
    const std::string line(1000, 'z');
    const size_t count = 16000;
    paced_send(*cs[0], *cs[1], line, count);
    check_numbered(*cs[1], line, count);
    CHECK(s.srv->stats().slow_consumer_disconnects.load() == 1);
    bool eof = false;
    cs[2]->c.recv_until_eof(eof, 5000ms);
    CHECK(eof);
  }

  TEST_CASE(
    "kam-serve --protocol=chat: a never-reading client is cut off, RSS stays bounded") {
    // One I/O thread: the bound is on what the slow client's connection can
    // hold. With two, the sender's own thread paces the reader it shares a
    // thread with, and what the root hub relays to the other thread's hub
    // waits in that hub's mailbox, which no watermark counts: a CI run on a
    // loaded machine once saw the RSS grow by 19 MB (not reproduced in 14
    // runs here; that backlog is the likely place, docs/backplane.md).
    test::child_process p{test::bin_path("kam-serve"),
                          {"--protocol=chat", "--port=0", "--threads=1",
                           "--write-low-watermark=65536", "--write-high-watermark=131072",
                           "--write-hard-limit=262144"}};
    REQUIRE(p.pid() > 0);
    auto line = p.wait_for_line("listening on", 10000ms);
    REQUIRE(line);
    auto port = test::port_of(*line);
    auto cs = connect(port, 3);
    auto base = kam::test::status_kib(p.pid(), "VmRSS");
    long peak = base;
    const std::string text(1000, 'q');
    const size_t count = 16000; // 16 MB through the server
    const size_t step = 2000;
    for (size_t done = 0; done < count; done += step) {
      // Sent in rounds so the RSS is sampled while the data flows.
      client& from = *cs[0];
      client& to = *cs[1];
      size_t sent = done;
      while (sent < done + step) {
        std::string chunk;
        size_t until = std::min(done + step, to.lines.size() + 200);
        for (; sent < until; ++sent)
          chunk += std::to_string(sent) + text + "\n";
        if (!chunk.empty())
          REQUIRE(from.c.send_all(chunk));
        to.pump(1000ms);
      }
      peak = std::max(peak, kam::test::status_kib(p.pid(), "VmRSS"));
    }
    cs[1]->wait_lines(count, 10000ms);
    peak = std::max(peak, kam::test::status_kib(p.pid(), "VmRSS"));
    check_numbered(*cs[1], text, count);
    bool eof = false;
    cs[2]->c.recv_until_eof(eof, 5000ms);
    CHECK(eof);
    MESSAGE("kam-serve RSS " << base << " KiB before, peak " << peak << " KiB");
#if defined(__SANITIZE_ADDRESS__)
    MESSAGE("RSS bound not checked under AddressSanitizer");
#else
    // 16 MB went through; a server holding the slow client's share would
    // grow by about that much.
    CHECK(peak - base < 8 * 1024);
#endif
    p.signal(SIGTERM);
    CHECK(p.wait_exit(10000ms) == 0);
  }

  TEST_CASE("kam-serve --protocol=chat with a bad --max-line exits 2 with one line") {
    for (std::string bad :
         {"--max-line=0", "--max-line=-5", "--max-line=abc", "--max-line=999999999999"}) {
      test::child_process p{test::bin_path("kam-serve"),
                            {"--protocol=chat", "--port=0", bad}};
      REQUIRE(p.pid() > 0);
      CHECK(p.wait_exit(10000ms) == 2);
      auto& err = p.err();
      CHECK(err.find("max-line") != std::string::npos);
      CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    }
  }

} // TEST_SUITE
