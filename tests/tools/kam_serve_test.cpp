// Process-level tests of the kam-serve program: each test starts its own
// kam-serve on loopback with --port=0, talks to it over TCP and signals it.
// Every wait is bounded.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
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
using kam::test::random_bytes;
using kam::test::tcp_client;
using ms = std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

const std::string loopback = "127.0.0.1";

std::string kam_serve() {
  return bin_path("kam-serve");
}

/// A kam-serve child that printed its listening line.
struct running_server {
  std::unique_ptr<child_process> proc;
  std::string line;
  uint16_t port = 0;
};

/// Starts kam-serve with `args` and waits for `listening on`.
running_server start_server(const std::vector<std::string>& args) {
  running_server s;
  s.proc = std::make_unique<child_process>(kam_serve(), args);
  REQUIRE(s.proc->pid() > 0);
  auto line = s.proc->wait_for_line("listening on", 10000ms);
  if (!line) {
    auto rc = s.proc->wait_exit(2000ms);
    FAIL("kam-serve did not print its listening line; exit="
         << (rc ? std::to_string(*rc) : "still running") << " stdout='" << s.proc->out()
         << "' stderr='" << s.proc->err() << "'");
  }
  s.line = *line;
  s.port = port_of(s.line);
  REQUIRE(s.port != 0);
  return s;
}

/// kam-serve on 127.0.0.1, a kernel-chosen port, plus `extra` options.
running_server start_loopback_server(std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--protocol=echo", "--host=127.0.0.1", "--port=0",
                                "--threads=1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return start_server(args);
}

using kam::test::count_lines;
using kam::test::run_result;

/// Runs kam-serve with `args` until it exits by itself.
run_result run_to_exit(const std::vector<std::string>& args, ms timeout = 10000ms) {
  auto r = kam::test::run_to_exit(kam_serve(), args, timeout);
  REQUIRE(r.code.has_value());
  return r;
}

/// One round trip: sends `msg`, expects it back.
bool echoes(tcp_client& c, const std::string& msg) {
  if (!c.send_all(msg))
    return false;
  return c.recv_exact(msg.size()) == msg;
}

/// Tries to connect until the server refuses (or `timeout` passes).
bool connect_refused_within(const std::string& host, uint16_t port, ms timeout) {
  auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    tcp_client c{host, port};
    if (!c.ok())
      return true;
    c.close();
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

/// An endless byte stream: a 1 MiB pseudo-random block, repeated.
class pattern_stream {
public:
  explicit pattern_stream(uint32_t seed) : block_(random_bytes(size_t{1} << 20, seed)) {}

  const char* at(uint64_t offset) const { return block_.data() + offset % block_.size(); }

  /// Contiguous bytes available from `offset` up to the block's end.
  size_t run(uint64_t offset) const { return block_.size() - offset % block_.size(); }

  /// Whether `data` equals the stream's bytes from `offset`.
  bool matches(uint64_t offset, const char* data, size_t n) const {
    while (n > 0) {
      auto len = std::min(n, run(offset));
      if (std::memcmp(at(offset), data, len) != 0)
        return false;
      offset += len;
      data += len;
      n -= len;
    }
    return true;
  }

private:
  std::string block_;
};

/// Sends `stream` without ever reading, until the peer stops taking bytes
/// for `stall` (its buffers and ours are full) or `cap` bytes went out.
/// Returns how many bytes were sent.
uint64_t send_until_stalled(tcp_client& c, const pattern_stream& stream, uint64_t cap,
                            ms stall = 300ms) {
  uint64_t off = 0;
  while (off < cap) {
    pollfd p{c.fd(), POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(stall.count()));
    if (r == 0)
      break; // stalled: the server no longer reads from us
    if (r < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    auto len = static_cast<size_t>(std::min<uint64_t>(stream.run(off), cap - off));
    auto n = ::send(c.fd(), stream.at(off), len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      break;
    }
    off += static_cast<uint64_t>(n);
  }
  return off;
}

/// Reads until EOF (or `timeout`), checking the bytes against `stream`.
struct stream_check {
  uint64_t received = 0;
  bool intact = true;
  bool eof = false;
};

stream_check recv_stream_until_eof(tcp_client& c, const pattern_stream& stream,
                                   ms timeout) {
  stream_check res;
  auto deadline = steady::now() + timeout;
  std::vector<char> buf(size_t{1} << 16);
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
    if (left <= 0)
      return res;
    pollfd p{c.fd(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r == 0)
      return res;
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return res;
    }
    auto n = ::recv(c.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0) {
      res.eof = true;
      return res;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return res; // reset
    }
    if (res.intact && !stream.matches(res.received, buf.data(), static_cast<size_t>(n)))
      res.intact = false;
    res.received += static_cast<uint64_t>(n);
  }
}

/// The largest socket buffer the kernel may give (third field of tcp_rmem /
/// tcp_wmem), or `fallback`.
uint64_t max_socket_buffer(const char* sysctl_path, uint64_t fallback) {
  std::ifstream in{sysctl_path};
  uint64_t lo = 0;
  uint64_t def = 0;
  uint64_t hi = 0;
  if (in >> lo >> def >> hi)
    return hi;
  return fallback;
}

/// How a connection ended from the client's side.
enum class ending { eof, reset, timeout };

/// Reads into `out` until EOF, reset or `timeout`.
ending read_to_end(tcp_client& c, std::string& out, ms timeout) {
  auto deadline = steady::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
    pollfd p{c.fd(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0)));
    if (r == 0)
      return ending::timeout;
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return ending::reset;
    }
    auto n = ::recv(c.fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0)
      return ending::eof;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return ending::reset;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

/// Whether the connection ends (EOF or reset) within `timeout`, discarding input.
bool connection_ends_within(tcp_client& c, ms timeout) {
  std::string sink;
  return read_to_end(c, sink, timeout) != ending::timeout;
}

/// Byte-exact comparison without dumping megabytes into the test log.
void check_same_bytes(const std::string& got, const std::string& want) {
  CHECK(got.size() == want.size());
  auto mismatch =
    std::mismatch(got.begin(), got.end(), want.begin(),
                  want.begin() + static_cast<long>(std::min(got.size(), want.size())));
  bool same = got.size() == want.size() && mismatch.first == got.end();
  CHECK_MESSAGE(same, "first difference at byte " << (mismatch.first - got.begin())
                                                  << " of " << want.size());
}

bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = 0;
  sa.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  ::close(fd);
  return ok;
}

/// SIGTERM / SIGINT: stop accepting at once, drain existing connections
/// (bytes sent before the signal come back), close each when done, exit 0.
void check_graceful_stop(int sig) {
  auto srv = start_loopback_server({"--drain-timeout=20"});
  tcp_client c{loopback, srv.port};
  REQUIRE(c.ok());
  REQUIRE(echoes(c, "connected\n")); // accepted and wired before the signal
  // A second client that does not read yet: more echo than the socket
  // buffers toward it hold, so the drain cannot finish (and the server cannot
  // exit) until it reads. That keeps the server up while we probe below.
  tcp_client slow{loopback, srv.port};
  REQUIRE(slow.ok());
  REQUIRE(echoes(slow, "slow\n"));
  const pattern_stream stream{static_cast<uint32_t>(sig)};
  auto slow_sent = send_until_stalled(slow, stream, uint64_t{16} << 20);
  const std::string before = "sent before the signal\n";
  REQUIRE(c.send_all(before));
  auto t0 = steady::now();
  srv.proc->signal(sig);
  CHECK_MESSAGE(connect_refused_within(loopback, srv.port, 3000ms),
                "new connections are still accepted after the signal");
  bool eof = false;
  auto got = c.recv_until_eof(eof, 5000ms);
  CHECK(got == before);
  CHECK_MESSAGE(eof, "the server did not close the drained connection");
  CHECK_MESSAGE(!srv.proc->wait_exit(0ms).has_value(),
                "kam-serve exited while a connection still had unsent output");
  auto slow_got = recv_stream_until_eof(slow, stream, 30000ms);
  CHECK(slow_got.received == slow_sent);
  CHECK(slow_got.intact);
  CHECK_MESSAGE(slow_got.eof, "the server did not close the drained slow connection");
  auto rc = srv.proc->wait_exit(10000ms);
  REQUIRE_MESSAGE(rc.has_value(),
                  "kam-serve still runs 10 s after its connections drained");
  CHECK(*rc == 0);
  CHECK(steady::now() - t0 < 20000ms);
  CHECK_MESSAGE(srv.proc->err().empty(), "stderr: " << srv.proc->err());
}

} // namespace

TEST_SUITE("kam-serve") {

  TEST_CASE("with --port=0 it prints 'listening on 127.0.0.1:<port>' with a real port") {
    auto srv = start_loopback_server();
    CHECK(srv.line == "listening on 127.0.0.1:" + std::to_string(srv.port));
    CHECK(srv.port != 0);
  }

  TEST_CASE("it echoes one connection's message") {
    auto srv = start_loopback_server();
    tcp_client c{loopback, srv.port};
    REQUIRE(c.ok());
    CHECK(echoes(c, "hello, kamaelia\n"));
  }

  TEST_CASE("--placement=scheduler and --placement=io both serve echo") {
    for (std::string placement : {"scheduler", "io"}) {
      CAPTURE(placement);
      auto srv = start_loopback_server({"--placement=" + placement});
      tcp_client c{loopback, srv.port};
      REQUIRE(c.ok());
      CHECK(echoes(c, "placed on " + placement + "\n"));
    }
  }

  TEST_CASE("it echoes 1 MiB byte-exact on one connection") {
    auto srv = start_loopback_server();
    tcp_client c{loopback, srv.port};
    REQUIRE(c.ok());
    const auto data = random_bytes(size_t{1} << 20, 1601);
    // Send and receive at once: the echo must not depend on socket buffer sizes.
    bool sent = false;
    std::thread sender{[&] { sent = c.send_all(data, 20000ms); }};
    auto got = c.recv_exact(data.size(), 20000ms);
    sender.join();
    CHECK(sent);
    check_same_bytes(got, data);
  }

  TEST_CASE("--accept-batch=1: a burst of connections made before any is served is "
            "served in full, one accept per wake-up") {
    auto srv = start_loopback_server({"--accept-batch=1", "--threads=1"});
    // All connect before any is served: the listener wakes with several in
    // the backlog, takes one per wake-up, and must come back for the rest.
    std::vector<std::unique_ptr<tcp_client>> clients;
    for (int i = 0; i < 40; ++i) {
      clients.push_back(std::make_unique<tcp_client>(loopback, srv.port));
      REQUIRE(clients.back()->ok());
    }
    for (size_t i = 0; i < clients.size(); ++i) {
      CAPTURE(i);
      CHECK(echoes(*clients[i], "burst " + std::to_string(i) + "\n"));
    }
  }

  TEST_CASE("a bad option exits with code 2 and one line on stderr naming the cause") {
    struct bad_case {
      std::string option;
      std::string named; // what the stderr line must mention
    };
    const std::vector<bad_case> cases{
      {"--port=70000", "port"},
      {"--port=abc", "port"},
      {"--threads=abc", "threads"},
      {"--protocol=nope", "nope"},
      {"--bogus=1", "bogus"},
      {"--drain-timeout=-1", "drain-timeout"},
      {"--placement=gpu", "placement"},
      {"--accept-batch=0", "accept-batch"},
      {"--accept-batch=70000", "accept-batch"},
      {"--tls-handshakes-per-round=-1", "tls-handshakes-per-round"},
      {"--tls-handshakes-per-round=70000", "tls-handshakes-per-round"},
    };
    for (auto& bc : cases) {
      CAPTURE(bc.option);
      std::vector<std::string> args{"--host=127.0.0.1", "--port=0"};
      args.push_back(bc.option); // a later --port= overrides the --port=0
      auto r = run_to_exit(args);
      REQUIRE_MESSAGE(r.code.has_value(), "kam-serve did not exit on a bad option");
      CHECK_MESSAGE(*r.code == 2, "exit code " << *r.code << " (134 = abort); stderr='"
                                               << r.err << "'");
      CHECK_MESSAGE(count_lines(r.err) == 1, "stderr='" << r.err << "'");
      CHECK(r.err.size() > 1);
      CHECK_MESSAGE(r.err.find(bc.named) != std::string::npos,
                    "stderr='" << r.err << "'");
      CHECK(r.out.find("listening on") == std::string::npos);
    }
  }

  TEST_CASE(
    "a second server on a port in use exits non-zero, saying the port is in use") {
    auto first = start_loopback_server();
    auto port = std::to_string(first.port);
    auto r = run_to_exit({"--protocol=echo", "--host=127.0.0.1", "--port=" + port});
    REQUIRE_MESSAGE(r.code.has_value(),
                    "second kam-serve still runs; stdout='" << r.out << "'");
    CHECK(*r.code != 0);
    CHECK_MESSAGE(*r.code < 128, "killed by signal " << (*r.code - 128));
    CHECK(r.out.find("listening on") == std::string::npos);
    CHECK_MESSAGE(count_lines(r.err) == 1, "stderr='" << r.err << "'");
    CHECK_MESSAGE(r.err.find(port) != std::string::npos, "stderr='" << r.err << "'");
    CHECK_MESSAGE(r.err.find("in use") != std::string::npos, "stderr='" << r.err << "'");
    // And the first server is not disturbed.
    tcp_client c{loopback, first.port};
    REQUIRE(c.ok());
    CHECK(echoes(c, "still mine\n"));
  }

  TEST_CASE("with --host=::1 it listens and echoes on IPv6 loopback") {
    if (!ipv6_loopback_available()) {
      MESSAGE("skipped: ::1 is not available on this machine");
      return;
    }
    auto srv = start_server({"--protocol=echo", "--host=::1", "--port=0", "--threads=1"});
    CHECK(srv.line == "listening on [::1]:" + std::to_string(srv.port));
    tcp_client c{"::1", srv.port};
    REQUIRE(c.ok());
    CHECK(echoes(c, "hello over IPv6\n"));
  }

  TEST_CASE(
    "SIGTERM: refuses new connections, drains and closes existing ones, exits 0") {
    check_graceful_stop(SIGTERM);
  }

  TEST_CASE("SIGINT: refuses new connections, drains and closes existing ones, exits 0") {
    check_graceful_stop(SIGINT);
  }

  TEST_CASE("drain: bytes sent right before SIGTERM all come back, then EOF, exit 0") {
    auto srv = start_loopback_server({"--drain-timeout=5"});
    tcp_client c{loopback, srv.port};
    REQUIRE(c.ok());
    REQUIRE(echoes(c, "ping\n")); // the connection is accepted and wired
    const auto data = random_bytes(64 * 1024, 7);
    REQUIRE(c.send_all(data));
    srv.proc->signal(SIGTERM); // at once, nothing read back yet
    bool eof = false;
    auto got = c.recv_until_eof(eof, 8000ms);
    check_same_bytes(got, data);
    CHECK_MESSAGE(eof, "no EOF from the server");
    auto rc = srv.proc->wait_exit(8000ms);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
  }

  TEST_CASE("SIGTERM racing a just-accepted connection: the client is served in full "
            "or refused, never left hanging, and the server exits 0") {
    // The connection is accepted by the I/O thread while the shutdown is under
    // way. Repeated because the interleaving differs from run to run.
    constexpr int rounds = 100;
    int served = 0;
    int refused = 0;
    for (int i = 0; i < rounds; ++i) {
      CAPTURE(i);
      auto srv = start_loopback_server({"--drain-timeout=1"});
      tcp_client c{loopback, srv.port};
      REQUIRE(c.ok());
      const std::string msg = "round " + std::to_string(i) + "\n";
      REQUIRE(c.send_all(msg));
      srv.proc->signal(SIGTERM); // at once: no round trip first
      std::string got;
      auto how = read_to_end(c, got, 4000ms);
      auto rc = srv.proc->wait_exit(5000ms);
      if (!rc) {
        FAIL_CHECK(
          "kam-serve still runs 5 s after SIGTERM with --drain-timeout=1; "
          "the client got "
          << got.size() << " bytes and "
          << std::string{how == ending::timeout ? "no EOF" : "its connection closed"});
        break;
      }
      CHECK(*rc == 0);
      CHECK_MESSAGE(how != ending::timeout,
                    "the client was left hanging: no EOF, no reset");
      if (how == ending::eof) {
        CHECK(got == msg); // served: then in full
        ++served;
      } else if (how == ending::reset) {
        CHECK(got.empty()); // not accepted before the listener closed
        ++refused;
      }
      if (*rc != 0 || how == ending::timeout)
        break;
    }
    MESSAGE("served " << served << ", refused " << refused << " of " << rounds);
  }

  TEST_CASE("a client that never reads is back-pressured: the server stops reading "
            "instead of buffering without bound") {
    auto srv = start_loopback_server();
    tcp_client c{loopback, srv.port};
    REQUIRE(c.ok());
    REQUIRE(echoes(c, "ping\n"));
    // What the kernel alone may buffer on this path: our send buffer, the
    // server's receive and send buffers, our receive buffer. Anything much
    // beyond that sits in kam-serve's memory.
    auto rmem = max_socket_buffer("/proc/sys/net/ipv4/tcp_rmem", uint64_t{6} << 20);
    auto wmem = max_socket_buffer("/proc/sys/net/ipv4/tcp_wmem", uint64_t{4} << 20);
    auto kernel = 2 * (rmem + wmem);
    auto cap = kernel + (uint64_t{64} << 20);
    const pattern_stream stream{19};
    auto sent = send_until_stalled(c, stream, cap, 1000ms);
    CHECK_MESSAGE(sent < cap, "kam-serve took "
                                << (sent >> 20)
                                << " MiB from a client that reads nothing "
                                   "(kernel buffers account for at most "
                                << (kernel >> 20) << " MiB)");
    // And the connection still works once we read.
    c.shutdown_write();
    auto got = recv_stream_until_eof(c, stream, 60000ms);
    CHECK(got.received == sent);
    CHECK(got.intact);
    CHECK(got.eof);
  }

  TEST_CASE(
    "drain timeout: an idle connection does not hold up exit past --drain-timeout") {
    auto srv = start_loopback_server({"--drain-timeout=1"});
    tcp_client idle{loopback, srv.port};
    REQUIRE(idle.ok());
    REQUIRE(echoes(idle, "then silence\n"));
    auto t0 = steady::now();
    srv.proc->signal(SIGTERM);
    auto rc = srv.proc->wait_exit(10000ms);
    auto elapsed = steady::now() - t0;
    REQUIRE_MESSAGE(rc.has_value(), "kam-serve still runs 10 s after SIGTERM");
    CHECK(*rc == 0);
    CHECK_MESSAGE(elapsed < 5000ms, "exit took "
                                      << std::chrono::duration_cast<ms>(elapsed).count()
                                      << " ms");
    CHECK_MESSAGE(connection_ends_within(idle, 2000ms),
                  "the idle connection was not closed");
  }

  TEST_CASE("drain timeout: a client that never reads is force-closed at the deadline, "
            "exit 0") {
    auto srv = start_loopback_server({"--drain-timeout=1"});
    tcp_client idle{loopback, srv.port};
    REQUIRE(idle.ok());
    REQUIRE(echoes(idle, "idle\n"));
    tcp_client stuck{loopback, srv.port};
    REQUIRE(stuck.ok());
    REQUIRE(echoes(stuck, "stuck\n"));
    const pattern_stream stream{13};
    REQUIRE(send_until_stalled(stuck, stream, uint64_t{16} << 20) > 0);
    auto t0 = steady::now();
    srv.proc->signal(SIGTERM);
    auto rc = srv.proc->wait_exit(10000ms);
    auto elapsed = steady::now() - t0;
    REQUIRE_MESSAGE(rc.has_value(), "kam-serve still runs 10 s after SIGTERM");
    CHECK(*rc == 0);
    auto elapsed_ms = std::chrono::duration_cast<ms>(elapsed).count();
    CHECK_MESSAGE(elapsed < 5000ms, "exit took " << elapsed_ms << " ms");
    // Unsent output is only dropped at the deadline, not before.
    CHECK_MESSAGE(elapsed >= 800ms,
                  "exit after " << elapsed_ms << " ms, before the deadline");
    CHECK(connection_ends_within(idle, 2000ms));
    CHECK(connection_ends_within(stuck, 5000ms));
  }

  TEST_CASE("a second signal closes what is left at once and exits 0") {
    auto srv = start_loopback_server({"--drain-timeout=60"});
    tcp_client stuck{loopback, srv.port};
    REQUIRE(stuck.ok());
    REQUIRE(echoes(stuck, "stuck\n"));
    const pattern_stream stream{17};
    REQUIRE(send_until_stalled(stuck, stream, uint64_t{16} << 20) > 0);
    srv.proc->signal(SIGTERM);
    // Draining: blocked on our unread echo, with 60 s to go.
    CHECK(!srv.proc->wait_exit(300ms).has_value());
    auto t0 = steady::now();
    srv.proc->signal(SIGTERM);
    auto rc = srv.proc->wait_exit(10000ms);
    REQUIRE_MESSAGE(rc.has_value(), "kam-serve still runs 10 s after the second SIGTERM");
    CHECK(*rc == 0);
    CHECK(steady::now() - t0 < 5000ms);
    CHECK(connection_ends_within(stuck, 5000ms));
  }

  TEST_CASE("a real client, netcat, gets its line echoed back") {
    const std::string nc = "/usr/bin/nc";
    if (::access(nc.c_str(), X_OK) != 0) {
      MESSAGE("skipped: /usr/bin/nc is missing (apt-get install netcat-openbsd)");
      return;
    }
    auto srv = start_loopback_server();
    // -N: shut down the write side after stdin's EOF (a half-close), then wait
    // for the server to close; -w: bound every wait.
    child_process client{"/bin/sh",
                         {"-c", "printf 'hello from netcat\\n' | exec " + nc +
                                  " -N -w 5 127.0.0.1 " + std::to_string(srv.port)}};
    REQUIRE(client.pid() > 0);
    auto line = client.wait_for_line("hello from netcat", 10000ms);
    CHECK_MESSAGE(line.has_value(), "nc stdout='" << client.out() << "'");
    if (line)
      CHECK(*line == "hello from netcat");
    auto rc = client.wait_exit(10000ms);
    REQUIRE_MESSAGE(rc.has_value(),
                    "nc did not end: the server did not close after the half-close");
    CHECK_MESSAGE(*rc == 0, "nc stderr='" << client.err() << "'");
  }

  TEST_CASE("500 sequential connections each echo correctly") {
    auto srv = start_loopback_server();
    constexpr int cycles = 500;
    int failures = 0;
    int first_failure = -1;
    for (int i = 0; i < cycles; ++i) {
      tcp_client c{loopback, srv.port};
      auto msg = "connection " + std::to_string(i) + " " +
                 random_bytes(32, static_cast<uint32_t>(i));
      bool ok =
        c.ok() && c.send_all(msg, 5000ms) && c.recv_exact(msg.size(), 5000ms) == msg;
      if (!ok && failures++ == 0)
        first_failure = i;
    }
    CHECK_MESSAGE(failures == 0,
                  failures << " of " << cycles << " failed, first #" << first_failure);
    // The server is still healthy afterwards.
    tcp_client c{loopback, srv.port};
    REQUIRE(c.ok());
    CHECK(echoes(c, "after the run\n"));
  }

} // TEST_SUITE
