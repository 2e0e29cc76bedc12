// Robustness (issue 5) over real loopback sockets: backpressure both ways,
// idle timeout, connection limit, descriptor exhaustion.
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "runtime/harness.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tcp_client.hpp"

using namespace kam;
using namespace kam::test;
using namespace kam::runtime;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

/// What a probe handler saw.
struct probe {
  std::atomic<int> pauses{0};
  std::atomic<int> resumes{0};
  std::atomic<int> reason{-1}; // shutdown_reason of the socket_shutdown, if any
};

/// Echo that records flow control and how its socket ended.
caf::behavior probe_echo(component* self, std::shared_ptr<probe> p) {
  return {
    [=](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
    [=](control_atom, pause_producing) { ++p->pauses; },
    [=](control_atom, resume_producing) { ++p->resumes; },
    [=](control_atom, socket_shutdown s) {
      p->reason = static_cast<int>(s.reason);
      self->finish(producer_finished{});
    },
  };
}

/// Echo that, on "arm", asks for a read deadline of 300 ms (on `signal`,
/// which the chassis links to the CSA's `control`).
caf::behavior deadline_echo(component* self, std::shared_ptr<probe> p) {
  return {
    [=](inbox_atom, bytes& data) {
      if (std::string(data.begin(), data.end()) == "arm")
        self->send_on(runtime::signal, set_read_deadline{300});
      self->send_on(outbox, std::move(data));
    },
    [=](control_atom, socket_shutdown s) {
      p->reason = static_cast<int>(s.reason);
      self->finish(producer_finished{});
    },
  };
}

chassis::protocol_factory probe_factory(std::shared_ptr<probe> p) {
  return [p](caf::actor_system& sys) { return sys.spawn(probe_echo, p); };
}

/// A field of /proc/<pid>/status in KiB (e.g. "VmRSS"), or -1.
long status_kib(const std::string& pid, const std::string& field) {
  std::ifstream in{"/proc/" + pid + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  return -1;
}

/// utime + stime of a process in clock ticks, or -1.
long cpu_ticks(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string all{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto rp = all.rfind(')');
  if (rp == std::string::npos)
    return -1;
  std::istringstream rest{all.substr(rp + 2)};
  std::string f;
  long utime = 0;
  long stime = 0;
  // After the comm field: state is field 3; utime 14, stime 15.
  for (int i = 3; i <= 15 && rest >> f; ++i) {
    if (i == 14)
      utime = std::strtol(f.c_str(), nullptr, 10);
    if (i == 15)
      stime = std::strtol(f.c_str(), nullptr, 10);
  }
  return utime + stime;
}

/// Sends all of `data` on `fd`, counting progress in `sent`; bounded.
bool send_counted(int fd, const std::string& data, std::atomic<size_t>& sent,
                  std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  size_t off = 0;
  while (off < data.size()) {
    if (clock_type::now() >= deadline)
      return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    auto n = ::send(fd, data.data() + off, std::min<size_t>(data.size() - off, 1 << 20),
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return false;
    }
    off += static_cast<size_t>(n);
    sent.store(off);
  }
  return true;
}

/// Receives exactly `n` bytes into `buf`; returns how many arrived in time.
size_t recv_into(int fd, char* buf, size_t n, std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  size_t got = 0;
  while (got < n && clock_type::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    auto r = ::recv(fd, buf + got, n - got, MSG_DONTWAIT);
    if (r == 0)
      break;
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      break;
    }
    got += static_cast<size_t>(r);
  }
  return got;
}

/// Samples this process's VmRSS every 10 ms and keeps the maximum.
class rss_monitor {
public:
  rss_monitor() : base_(status_kib("self", "VmRSS")), peak_(base_) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        auto v = status_kib("self", "VmRSS");
        if (v > peak_.load())
          peak_.store(v);
        std::this_thread::sleep_for(10ms);
      }
    });
  }
  ~rss_monitor() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable())
      thread_.join();
  }
  long base() const { return base_; }
  long peak_growth() const { return peak_.load() - base_; }

private:
  long base_;
  std::atomic<long> peak_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool prlimit_available() {
  return ::access("/usr/bin/prlimit", X_OK) == 0;
}

} // namespace

TEST_SUITE("chassis.robustness") {

  // -- 1. backpressure -----------------------------------------------------------

  TEST_CASE("flow-control and deadline messages serialize and are registered by name") {
    test_system ts;
    std::vector<char> buf;
    caf::binary_serializer sink{*ts, buf};
    REQUIRE(!sink(pause_producing{}, resume_producing{}, set_read_deadline{1234}));
    pause_producing p;
    resume_producing r;
    set_read_deadline d;
    caf::binary_deserializer source{*ts, buf};
    REQUIRE(!source(p, r, d));
    CHECK(d.ms == 1234);
    auto text = caf::to_string(
      caf::make_message(pause_producing{}, resume_producing{}, set_read_deadline{5}));
    CHECK(text.find("pause_producing") != std::string::npos);
    CHECK(text.find("resume_producing") != std::string::npos);
    CHECK(text.find("set_read_deadline") != std::string::npos);
    CHECK(ts.sys->types().portable_name(caf::make_rtti_pair<set_read_deadline>()) ==
          "kam::set_read_deadline");
  }

  TEST_CASE("a component ignores pause_producing / resume_producing and goes on") {
    test_system ts;
    harness h{*ts, (*ts).spawn(protocols::echo::handler)};
    h.send(control, pause_producing{});
    h.send(control, resume_producing{});
    h.send(inbox, to_bytes("still here"));
    CHECK(h.read_text(outbox, 10) == "still here");
    h.send(control, producer_finished{});
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("64 MiB to echo from a client that does not read: server memory is bounded") {
    constexpr size_t total = 64u << 20;
    auto data = random_bytes(total, 5);
    std::string back(total, '\0'); // touched now, so it is in the baseline
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    rss_monitor rss;
    std::atomic<size_t> sent{0};
    std::atomic<bool> send_ok{false};
    std::thread writer([&] { send_ok = send_counted(c.fd(), data, sent, 60000ms); });
    // Not reading: the sender must stall once the server stops reading.
    size_t last = 0;
    auto stall_deadline = clock_type::now() + 10s;
    for (;;) {
      std::this_thread::sleep_for(500ms);
      auto now_sent = sent.load();
      if (now_sent == last || clock_type::now() >= stall_deadline)
        break;
      last = now_sent;
    }
    auto stalled_at = sent.load();
    auto growth_stalled = rss.peak_growth();
    MESSAGE("client stalled after sending "
            << stalled_at / 1024 << " KiB; server RSS growth " << growth_stalled
            << " KiB");
    CHECK(stalled_at < total / 2);
    // Now read it all back while the rest is sent.
    auto got = recv_into(c.fd(), back.data(), total, 60000ms);
    writer.join();
    rss.stop();
    MESSAGE("peak RSS growth over the whole transfer: " << rss.peak_growth() << " KiB");
    CHECK(send_ok.load());
    REQUIRE(got == total);
    CHECK(back == data);
#if defined(__SANITIZE_ADDRESS__)
    // ASan's quarantine keeps freed buffers resident: RSS says nothing here;
    // the client's stall above still shows the server stopped reading.
    MESSAGE("RSS bound not checked under AddressSanitizer");
#else
    CHECK(rss.peak_growth() < 64 * 1024);
#endif
  }

  TEST_CASE("the handler hears pause_producing past the high watermark, then resume") {
    test_system ts;
    auto p = std::make_shared<probe>();
    auto opts = loopback_options();
    opts.listen.write_high_watermark = 64 * 1024;
    opts.listen.write_low_watermark = 16 * 1024;
    opts.listen.write_hard_limit = 256 * 1024;
    auto srv = chassis::simple_server(*ts, probe_factory(p), opts);
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    constexpr size_t total = 32u << 20; // more than the kernel buffers hold
    auto data = random_bytes(total, 9);
    std::atomic<size_t> sent{0};
    std::atomic<bool> send_ok{false};
    std::thread writer([&] { send_ok = send_counted(c.fd(), data, sent, 30000ms); });
    // While the kernel's socket buffers grow the queue may drain a few times
    // (pause, resume, ...); once the sender stalls the handler stays paused.
    size_t last = 0;
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(300ms);
      if (sent.load() == last)
        break;
      last = sent.load();
    }
    CHECK(sent.load() < total);
    CHECK(p->pauses.load() >= 1);
    CHECK(p->pauses.load() == p->resumes.load() + 1);
    std::string back(total, '\0');
    auto got = recv_into(c.fd(), back.data(), total, 30000ms);
    writer.join();
    CHECK(send_ok.load());
    REQUIRE(got == total);
    CHECK(back == data);
    CHECK(eventually([&] { return p->resumes.load() == p->pauses.load(); }));
    MESSAGE("pause/resume episodes: " << p->pauses.load());
  }

  // -- 2. idle timeout -------------------------------------------------------------

  TEST_CASE(
    "an idle connection closes with socket_shutdown{timeout}; an active one not") {
    test_system ts;
    auto idle = std::make_shared<probe>();
    auto busy = std::make_shared<probe>();
    std::atomic<int> n{0};
    auto opts = loopback_options();
    opts.listen.idle_timeout = 300ms;
    auto srv = chassis::simple_server(
      *ts,
      [&](caf::actor_system& sys) {
        return sys.spawn(probe_echo, n++ == 0 ? idle : busy);
      },
      opts);
    REQUIRE(srv);
    tcp_client a{"127.0.0.1", srv->port()};
    REQUIRE(a.ok());
    CHECK(round_trip(a, "hi"));
    REQUIRE(eventually([&] { return n.load() == 1; }));
    tcp_client b{"127.0.0.1", srv->port()};
    REQUIRE(b.ok());
    auto t0 = clock_type::now();
    // b talks every 100 ms for 1.2 s (4 timeouts); a stays silent.
    bool b_ok = true;
    for (int i = 0; i < 12 && b_ok; ++i) {
      b_ok = b.send_all("x") && b.recv_exact(1, 1000ms) == "x";
      std::this_thread::sleep_for(100ms);
    }
    CHECK(b_ok);
    bool eof = false;
    CHECK(a.recv_until_eof(eof, 100ms).empty());
    CHECK(eof); // long since closed
    CHECK(idle->reason.load() == static_cast<int>(shutdown_reason::timeout));
    CHECK(busy->reason.load() == -1);
    // Once b is silent it is closed too, within about one timeout.
    auto t1 = clock_type::now();
    eof = false;
    b.recv_until_eof(eof, 3000ms);
    CHECK(eof);
    auto waited = clock_type::now() - t1;
    CHECK(waited >= 150ms);
    CHECK(waited < 1500ms);
    CHECK(eventually(
      [&] { return busy->reason.load() == static_cast<int>(shutdown_reason::timeout); }));
    CHECK(clock_type::now() - t0 >= 1200ms);
  }

  TEST_CASE("without an idle timeout a silent connection stays open") {
    test_system ts;
    auto p = std::make_shared<probe>();
    auto srv = chassis::simple_server(*ts, probe_factory(p), loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    CHECK(round_trip(c, "a"));
    bool eof = false;
    c.recv_until_eof(eof, 600ms);
    CHECK_FALSE(eof);
    CHECK(round_trip(c, "b"));
  }

  // -- read deadline -----------------------------------------------------------------

  TEST_CASE(
    "a handler's read deadline closes a silent client with socket_shutdown{timeout}") {
    test_system ts;
    auto p = std::make_shared<probe>();
    auto srv = chassis::simple_server(
      *ts, [p](caf::actor_system& sys) { return sys.spawn(deadline_echo, p); },
      loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    CHECK(round_trip(c, "arm"));
    auto t0 = clock_type::now();
    CHECK(sees_eof(c, 3000ms));
    CHECK(clock_type::now() - t0 < 1500ms);
    CHECK(eventually(
      [&] { return p->reason.load() == static_cast<int>(shutdown_reason::timeout); }));
  }

  TEST_CASE("a read deadline met by the client's bytes does not close the connection") {
    test_system ts;
    auto p = std::make_shared<probe>();
    auto srv = chassis::simple_server(
      *ts, [p](caf::actor_system& sys) { return sys.spawn(deadline_echo, p); },
      loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    CHECK(round_trip(c, "arm"));
    std::this_thread::sleep_for(100ms);
    REQUIRE(c.send_all("x")); // within 300 ms: met
    CHECK(c.recv_exact(1) == "x");
    bool eof = false;
    c.recv_until_eof(eof, 800ms);
    CHECK_FALSE(eof);
    CHECK(round_trip(c, "y"));
    CHECK(p->reason.load() == -1);
  }

  // -- 3. connection limit ---------------------------------------------------------

  TEST_CASE("max_connections = 3: five clients, three served until one closes") {
    test_system ts;
    auto opts = loopback_options();
    opts.listen.max_connections = 3;
    auto srv = chassis::simple_server(*ts, echo_factory(), opts);
    REQUIRE(srv);
    std::vector<tcp_client> cs;
    for (int i = 0; i < 5; ++i) {
      cs.emplace_back("127.0.0.1", srv->port());
      REQUIRE(cs.back().ok()); // completes in the backlog
      REQUIRE(cs.back().send_all("ping" + std::to_string(i)));
    }
    std::vector<bool> served(5, false);
    auto count_served = [&](std::chrono::milliseconds wait) {
      auto deadline = clock_type::now() + wait;
      for (int i = 0; i < 5; ++i) {
        if (served[i] || !cs[i].ok())
          continue;
        using std::chrono::milliseconds;
        auto left =
          std::chrono::duration_cast<milliseconds>(deadline - clock_type::now());
        auto got = cs[i].recv_some(std::max(left, 1ms));
        if (!got.empty()) {
          CHECK(got == "ping" + std::to_string(i));
          served[i] = true;
        }
      }
      return std::count(served.begin(), served.end(), true);
    };
    CHECK(count_served(1000ms) == 3);
    CHECK(srv->stats().accepted.load() == 3);
    // Still three after a while: the other two wait in the backlog.
    CHECK(count_served(300ms) == 3);
    // Close one served client: exactly one waiting client gets in.
    int closed_one = -1;
    for (int i = 0; i < 5 && closed_one < 0; ++i)
      if (served[i])
        closed_one = i;
    cs[closed_one].close();
    CHECK(count_served(3000ms) == 4);
    CHECK(count_served(300ms) == 4);
    CHECK(srv->stats().accepted.load() == 4);
    // The served ones still echo.
    for (int i = 0; i < 5; ++i)
      if (served[i] && i != closed_one) {
        REQUIRE(cs[i].send_all("again"));
        CHECK(cs[i].recv_exact(5) == "again");
      }
  }

  // -- 4. descriptor exhaustion ------------------------------------------------------

  TEST_CASE(
    "kam-serve out of descriptors backs off without spinning, then serves again") {
#if defined(__SANITIZE_ADDRESS__)
    // UBSan's vptr check probes memory through a pipe: out of descriptors it
    // reports every virtual call as invalid (and halts), so the sanitized
    // kam-serve cannot run this scenario.
    MESSAGE("skipped under sanitizers: their runtime needs descriptors");
    return;
#endif
    if (!prlimit_available()) {
      MESSAGE("skipped: /usr/bin/prlimit (util-linux) not installed");
      return;
    }
    child_process srv{"/usr/bin/prlimit",
                      {"--nofile=64:64", bin_path("kam-serve"), "--port=0", "--threads=1",
                       "--scheduler.max-threads=2"}};
    REQUIRE(srv.pid() > 0);
    auto line = srv.wait_for_line("listening on", 10000ms);
    REQUIRE(line);
    auto port = port_of(*line);
    REQUIRE(port != 0);
    // More clients than the server has descriptors; each sends one byte.
    std::vector<tcp_client> cs;
    for (int i = 0; i < 120; ++i) {
      cs.emplace_back("127.0.0.1", port);
      if (cs.back().ok())
        cs.back().send_all("x", 1000ms);
    }
    size_t served = 0;
    for (auto& c : cs)
      if (c.ok() && c.recv_some(20ms) == "x")
        ++served;
    MESSAGE("served " << served << " of " << cs.size() << " clients with 64 descriptors");
    CHECK(served > 0);
    CHECK(served < cs.size());
    // Over one second out of descriptors it must not spin.
    auto t0 = cpu_ticks(srv.pid());
    std::this_thread::sleep_for(1000ms);
    auto used = cpu_ticks(srv.pid()) - t0;
    auto hz = ::sysconf(_SC_CLK_TCK);
    MESSAGE("server CPU over 1 s while out of descriptors: " << used * 1000 / hz
                                                             << " ms");
    CHECK(used * 1000 / hz < 200);
    // Everyone leaves; the server accepts again.
    cs.clear();
    bool again = eventually(
      [&] {
        tcp_client c{"127.0.0.1", port};
        return c.ok() && c.send_all("y") && c.recv_exact(1, 500ms) == "y";
      },
      10000ms);
    CHECK(again);
    srv.signal(SIGTERM);
    auto rc = srv.wait_exit(15000ms);
    REQUIRE(rc);
    CHECK(*rc == 0);
    CHECK(srv.err().find("backing off") != std::string::npos);
    // Through kam-serve's logger (timestamp and level), once per episode.
    CHECK(srv.err().find("Z warning kam: accept on 127.0.0.1:") != std::string::npos);
  }

} // TEST_SUITE
