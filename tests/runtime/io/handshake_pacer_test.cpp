// The handshake pacer (runtime/io/detail/handshake_pacer.hpp) on a real
// io_context: stand-in streams record when their first read runs, and a
// socketpair with unread data is a socket event the reactor reports every
// round (each readiness wait re-arms epoll, which reports it again).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <sys/socket.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "runtime/io/detail/handshake_pacer.hpp"

namespace asio = boost::asio;

namespace {

struct fake_stream {
  std::vector<std::string>* log;
  int id;
  void deferred_read() { log->push_back("hs" + std::to_string(id)); }
};

using pacer = kam::runtime::io::detail::basic_handshake_pacer<fake_stream>;

/// A socket the reactor reports readable in every round until `rounds` is
/// used up: one byte is written and never read; each wakeup logs "ev" and
/// waits again.
struct ticker {
  asio::generic::stream_protocol::socket a, b;
  std::vector<std::string>* log;
  int rounds;

  ticker(asio::io_context& ioc, std::vector<std::string>* log, int rounds)
    : a(ioc), b(ioc), log(log), rounds(rounds) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    a.assign(asio::generic::stream_protocol(AF_UNIX, 0), fds[0]);
    b.assign(asio::generic::stream_protocol(AF_UNIX, 0), fds[1]);
    char byte = 'x';
    REQUIRE(::send(fds[1], &byte, 1, 0) == 1);
  }

  void wait() {
    a.async_wait(asio::socket_base::wait_read,
                 [this](const boost::system::error_code& ec) {
                   if (ec || rounds-- <= 0)
                     return;
                   log->push_back("ev");
                   wait();
                 });
  }
};

/// An I/O thread with a pacer, the log, and the stand-in streams it admitted.
struct bench_thread {
  asio::io_context ioc{1};
  std::vector<std::string> log;
  pacer p;
  std::vector<std::shared_ptr<fake_stream>> streams;

  explicit bench_thread(size_t per_round) : p(ioc, per_round) {}

  void admit(int id) {
    streams.push_back(std::make_shared<fake_stream>(fake_stream{&log, id}));
    p.admit(streams.back());
  }
};

/// Most handshakes the log shows in a row with no event between them.
size_t longest_run(const std::vector<std::string>& log) {
  size_t run = 0, most = 0;
  for (auto& e : log) {
    run = e == "ev" ? 0 : run + 1;
    most = std::max(most, run);
  }
  return most;
}

std::vector<std::string> handshakes(const std::vector<std::string>& log) {
  std::vector<std::string> out;
  for (auto& e : log)
    if (e != "ev")
      out.push_back(e);
  return out;
}

} // namespace

TEST_SUITE("runtime/io/handshake_pacer") {
  TEST_CASE("starts a burst of handshakes per_round at a time, the reactor's events "
            "between the rounds, in the order admitted") {
    for (size_t per_round : {size_t{1}, size_t{2}, size_t{4}}) {
      CAPTURE(per_round);
      bench_thread th{per_round};
      auto& log = th.log;
      ticker t{th.ioc, &log, 100};
      asio::post(th.ioc, [&] { // as stream::start() does, on the I/O thread
        t.wait();
        for (int i = 0; i < 9; ++i)
          th.admit(i);
        CHECK(th.p.waiting() == 9); // none started inside admit()
      });
      th.ioc.run_for(std::chrono::seconds(5));
      CHECK(handshakes(log) == std::vector<std::string>{"hs0", "hs1", "hs2", "hs3", "hs4",
                                                        "hs5", "hs6", "hs7", "hs8"});
      CHECK(th.p.waiting() == 0);
      CHECK(longest_run(log) == per_round);
      // Every round after the first comes behind at least one event.
      size_t events_before_last = 0;
      for (auto& e : log) {
        if (e == "hs8")
          break;
        events_before_last += e == "ev";
      }
      CHECK(events_before_last >= (9 + per_round - 1) / per_round - 1);
    }
  }

  TEST_CASE("with nothing else to do, every round still runs") {
    bench_thread th{2};
    asio::post(th.ioc, [&] {
      for (int i = 0; i < 5; ++i)
        th.admit(i);
    });
    th.ioc.run_for(std::chrono::seconds(5));
    CHECK(th.log.size() == 5);
    CHECK(th.ioc.stopped()); // no job left behind: run_for returned because work ran out
  }

  TEST_CASE("a stream gone while queued is skipped and does not use up a round's turn") {
    bench_thread th{2};
    auto& log = th.log;
    ticker t{th.ioc, &log, 100};
    asio::post(th.ioc, [&] {
      t.wait();
      for (int i = 0; i < 6; ++i)
        th.admit(i);
      th.streams[1].reset(); // closed while waiting: gone before its turn
      th.streams[2].reset();
    });
    th.ioc.run_for(std::chrono::seconds(5));
    CHECK(handshakes(log) == std::vector<std::string>{"hs0", "hs3", "hs4", "hs5"});
    // The first round started two live streams: hs0 and hs3, no event between.
    auto first = std::find(log.begin(), log.end(), "hs0");
    REQUIRE(first + 1 != log.end());
    CHECK(*(first + 1) == "hs3");
  }

  TEST_CASE("a burst admitted while a round is pending joins the queue behind it") {
    bench_thread th{1};
    ticker t{th.ioc, &th.log, 100};
    asio::post(th.ioc, [&] {
      t.wait();
      th.admit(0);
      th.admit(1);
      // A later accept batch, after the reactor has run once.
      asio::post(th.ioc, [&] { asio::post(th.ioc, [&] { th.admit(2); }); });
    });
    th.ioc.run_for(std::chrono::seconds(5));
    CHECK(handshakes(th.log) == std::vector<std::string>{"hs0", "hs1", "hs2"});
    CHECK(longest_run(th.log) == 1);
  }
}
