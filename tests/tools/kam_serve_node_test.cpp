// kam-serve --node-port/--join: the chat backplane federated across 3-4
// kam-serve processes on loopback through CAF's middleman (issue 15):
// fan-out across nodes, kill -9 and restart, SIGSTOP/SIGCONT, a refused
// cookie, a join target that is down, bad options, and 2 nodes behind a
// real haproxy with send-proxy-v2.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <limits>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "tests/support/haproxy.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tcp_client.hpp"

using namespace std::chrono_literals;
using kam::test::bin_path;
using kam::test::child_process;
using kam::test::port_of;
using kam::test::tcp_client;

namespace {

std::string addr(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

/// One kam-serve chat node. Its node port is 0 (the kernel picks one: no
/// race with other processes for a port named in advance) unless given; the
/// port it got is kept, so start() again binds the same one.
struct chat_node {
  std::vector<std::string> args;
  std::unique_ptr<child_process> proc;
  uint16_t node_port = 0;
  uint16_t port = 0; ///< the chat port
  size_t mark_at = 0; ///< stderr before this is history (see mark())

  explicit chat_node(std::vector<std::string> extra, uint16_t node_port_ = 0)
      : node_port(node_port_) {
    args = {"--protocol=chat", "--port=0", "--threads=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    start();
  }

  void start() {
    auto argv = args;
    argv.push_back("--node-port=" + std::to_string(node_port));
    proc = std::make_unique<child_process>(bin_path("kam-serve"), argv);
    REQUIRE(proc->pid() > 0);
    auto n = proc->wait_for_line("node at", 10000ms);
    if (!n)
      proc->wait_for_err("\x01", 0, 500ms); // what it said, for the message
    REQUIRE_MESSAGE(n, "no 'node at' line: " << proc->err());
    auto got = port_of(*n);
    if (node_port != 0)
      CHECK(got == node_port);
    node_port = got;
    CHECK(*n == "node at " + addr(node_port));
    auto l = proc->wait_for_line("listening on");
    REQUIRE(l);
    port = port_of(*l);
    mark_at = 0;
  }

  std::string address() const { return addr(node_port); }

  /// Waits for a stderr line starting `node: TEXT` after the mark. Lines of
  /// different peers come in any order, so this does not move the mark.
  bool logs(const std::string& text, std::chrono::milliseconds timeout = 5000ms) {
    return proc->wait_for_err("node: " + text, mark_at, timeout).has_value();
  }

  /// What stderr has shown so far is history for logs() from now on.
  void mark() { mark_at = proc->err().size(); }

  bool logs_up(const chat_node& other, std::chrono::milliseconds t = 10000ms) {
    return logs("peer " + other.address() + " up\n", t);
  }
};

/// A chat client that collects whole lines.
struct chat_client {
  tcp_client c;
  std::string buf;
  std::vector<std::string> lines;

  explicit chat_client(uint16_t port) : c("127.0.0.1", port) { REQUIRE(c.ok()); }

  /// Reads until `n` lines in all, or the timeout.
  bool read_lines(size_t n, std::chrono::milliseconds timeout = 10000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (lines.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto got = c.recv_some(100ms);
      buf += got;
      for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
        lines.push_back(buf.substr(0, nl));
        buf.erase(0, nl + 1);
      }
    }
    return lines.size() >= n;
  }

  /// Reads for `d` more, whatever comes.
  void read_for(std::chrono::milliseconds d) {
    read_lines(std::numeric_limits<size_t>::max(), d);
  }
};

/// "NAME I" lines of `sender` among `lines`, as numbers, in arrival order.
std::vector<int> numbers_from(const std::vector<std::string>& lines,
                              const std::string& sender) {
  std::vector<int> xs;
  for (auto& l : lines)
    if (l.rfind(sender + " ", 0) == 0)
      xs.push_back(std::stoi(l.substr(sender.size() + 1)));
  return xs;
}

std::vector<int> iota(int from, int to) {
  std::vector<int> xs;
  for (int i = from; i < to; ++i)
    xs.push_back(i);
  return xs;
}

std::string numbered(const std::string& sender, int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i)
    s += sender + " " + std::to_string(i) + "\n";
  return s;
}

/// True if no line occurs twice.
bool no_duplicates(const std::vector<std::string>& lines) {
  return std::set<std::string>(lines.begin(), lines.end()).size() == lines.size();
}

/// Three nodes: A, and B and C joining A only (they learn of each other).
struct mesh3 {
  chat_node a{{}};
  chat_node b{{"--join=" + a.address()}};
  chat_node c{{"--join=" + a.address()}};

  mesh3() {
    REQUIRE(a.logs_up(b));
    REQUIRE(a.logs_up(c));
    REQUIRE(b.logs_up(a));
    REQUIRE(b.logs_up(c));
    REQUIRE(c.logs_up(a));
    REQUIRE(c.logs_up(b));
    for (auto* n : {&a, &b, &c})
      n->mark();
  }
};

} // namespace

TEST_SUITE("tools/kam_serve nodes") {
  TEST_CASE("3 nodes x 2 clients x 100 lines: every other client gets each line once, "
            "in order, never its sender") {
    mesh3 m;
    std::vector<std::unique_ptr<chat_client>> clients;
    for (auto* n : {&m.a, &m.a, &m.b, &m.b, &m.c, &m.c})
      clients.push_back(std::make_unique<chat_client>(n->port));
    std::this_thread::sleep_for(300ms); // every handler wired (docs/backplane.md)
    for (size_t k = 0; k < clients.size(); ++k)
      REQUIRE(clients[k]->c.send_all(numbered("c" + std::to_string(k), 0, 100)));
    for (size_t k = 0; k < clients.size(); ++k) {
      auto& cl = *clients[k];
      CHECK_MESSAGE(cl.read_lines(500), "client " << k << " got " << cl.lines.size());
      cl.read_for(200ms); // nothing more may come
      CHECK(cl.lines.size() == 500);
      CHECK(numbers_from(cl.lines, "c" + std::to_string(k)).empty());
      for (size_t j = 0; j < clients.size(); ++j)
        if (j != k)
          CHECK_MESSAGE(numbers_from(cl.lines, "c" + std::to_string(j)) == iota(0, 100),
                        "client " << k << " from client " << j);
    }
  }

  TEST_CASE("kill -9 one node: the others log it down and keep talking; restarted with "
            "the same command line it rejoins") {
    mesh3 m;
    chat_client ca{m.a.port};
    chat_client cb{m.b.port};
    m.c.proc->signal(SIGKILL);
    REQUIRE(m.c.proc->wait_exit(2000ms));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(m.a.logs("peer " + m.c.address() + " down (", 3000ms));
    CHECK(m.b.logs("peer " + m.c.address() + " down (", 3000ms));
    CHECK(std::chrono::steady_clock::now() - t0 < 3000ms);
    REQUIRE(ca.c.send_all(numbered("a", 0, 50)));
    REQUIRE(cb.read_lines(50));
    CHECK(numbers_from(cb.lines, "a") == iota(0, 50));
    m.c.start(); // same --node-port: bound again at once
    CHECK(m.a.logs_up(m.c, 10000ms));
    CHECK(m.b.logs_up(m.c, 10000ms));
    chat_client cc{m.c.port};
    std::this_thread::sleep_for(300ms);
    REQUIRE(ca.c.send_all("a after\n"));
    REQUIRE(cc.read_lines(1));
    CHECK(cc.lines[0] == "a after");
    REQUIRE(cc.c.send_all("c back\n"));
    REQUIRE(ca.read_lines(1));
    CHECK(ca.lines.back() == "c back");
  }

  TEST_CASE("kill -STOP one node: the others keep talking at once and drop it; "
            "kill -CONT: it rejoins, nothing duplicated or reordered") {
    mesh3 m;
    chat_client ca{m.a.port};
    chat_client cb{m.b.port};
    chat_client cc{m.c.port};
    std::this_thread::sleep_for(300ms);
    REQUIRE(cc.c.send_all(numbered("c", 0, 20)));
    REQUIRE(ca.read_lines(20));
    m.c.proc->signal(SIGSTOP);
    // Nobody waits for the frozen peer: lines between A and B flow at once.
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(ca.c.send_all(numbered("a", 0, 200)));
    REQUIRE(cb.read_lines(200, 2000ms));
    CHECK(std::chrono::steady_clock::now() - t0 < 2000ms);
    CHECK(m.a.logs("peer " + m.c.address() + " down (", 6000ms));
    CHECK(m.b.logs("peer " + m.c.address() + " down (", 6000ms));
    REQUIRE(cb.c.send_all(numbered("b", 0, 20)));
    REQUIRE(ca.read_lines(40));
    m.c.proc->signal(SIGCONT);
    CHECK(m.a.logs_up(m.c, 10000ms));
    CHECK(m.b.logs_up(m.c, 10000ms));
    std::this_thread::sleep_for(200ms);
    REQUIRE(cc.c.send_all(numbered("c", 20, 40)));
    REQUIRE(ca.read_lines(60));
    CHECK(numbers_from(ca.lines, "c") == iota(0, 40));
    REQUIRE(ca.c.send_all(numbered("a", 200, 210)));
    cc.read_lines(1000, 1500ms);
    // C may have got some of what A sent while it was frozen (at most once),
    // but each line once and in order, and everything sent since it is back.
    CHECK(no_duplicates(cc.lines));
    auto from_a = numbers_from(cc.lines, "a");
    CHECK(std::is_sorted(from_a.begin(), from_a.end()));
    REQUIRE(from_a.size() >= 10);
    CHECK(std::vector<int>(from_a.end() - 10, from_a.end()) == iota(200, 210));
    CHECK(no_duplicates(ca.lines));
    CHECK(no_duplicates(cb.lines));
  }

  TEST_CASE("a node with another cookie is refused; a join target with nothing "
            "listening is retried; local chat goes on meanwhile") {
    chat_node a{{}};
    kam::test::refused_port down; // bound, not listening: refused, and held
    auto dead = down.port();
    chat_node d{{"--node-cookie=other", "--join=" + a.address() + "," + addr(dead)}};
    CHECK(d.proc->wait_for_err("node: peer " + a.address() + " retrying\n", 0, 5000ms));
    CHECK(d.proc->wait_for_err("node: peer " + addr(dead) + " retrying\n", 0, 5000ms));
    chat_client x{d.port};
    chat_client y{d.port};
    std::this_thread::sleep_for(200ms);
    REQUIRE(x.c.send_all("local\n"));
    REQUIRE(y.read_lines(1, 2000ms));
    CHECK(y.lines[0] == "local");
    std::this_thread::sleep_for(1500ms); // several more tries
    CHECK_FALSE(a.logs_up(d, 100ms));
    CHECK_FALSE(d.logs_up(a, 100ms));
    // Same cookie: accepted.
    chat_node e{{"--join=" + a.address()}};
    CHECK(a.logs_up(e));
  }

  TEST_CASE("the admin endpoint counts peers up and publications sent and received") {
    chat_node a{{"--admin-port=0"}};
    chat_node b{{"--join=" + a.address()}};
    REQUIRE(a.logs_up(b));
    auto admin = a.proc->wait_for_line("admin at");
    REQUIRE(admin);
    chat_client ca{a.port};
    chat_client cb{b.port};
    std::this_thread::sleep_for(300ms);
    REQUIRE(cb.c.send_all(numbered("b", 0, 7)));
    REQUIRE(ca.read_lines(7));
    REQUIRE(ca.c.send_all(numbered("a", 0, 3)));
    REQUIRE(cb.read_lines(3));
    tcp_client h{"127.0.0.1", port_of(*admin)};
    REQUIRE(h.send_all("GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    bool eof = false;
    auto body = h.recv_until_eof(eof);
    auto metric = [&](const std::string& name) {
      auto at = body.find("\n" + name + " ");
      return at == std::string::npos ? -1.0 : std::stod(body.substr(at + name.size() + 2));
    };
    // A publication is what the framer made of one read: 1..N lines.
    CHECK(metric("kam_node_peers") == 1);
    CHECK(metric("kam_node_received_total") >= 1);
    CHECK(metric("kam_node_received_total") <= 7);
    CHECK(metric("kam_node_sent_total") >= 1);
    CHECK(metric("kam_node_sent_total") <= 3);
    CHECK(metric("kam_node_dropped_total") == 0);
    CHECK(metric("kam_node_sequence_gaps_total") == 0);
  }

  TEST_CASE("bad node options: exit 2 with one line") {
    auto bin = bin_path("kam-serve");
    chat_node holder{{}};
    auto busy = holder.node_port;
    struct bad {
      std::vector<std::string> args;
      std::string says;
    };
    for (auto& x : std::vector<bad>{
           {{"--join=127.0.0.1:1"}, "--join needs --node-port"},
           {{"--node-port=0", "--join=nohost"}, "--join: 'nohost' is not HOST:PORT"},
           {{"--node-port=0", "--join=127.0.0.1:70000"}, "out of range"},
           {{"--node-port=70000"}, "--node-port=70000 is out of range"},
           {{"--node-port=0", "--host=0.0.0.0"}, "--node-host must be an address peers"},
           {{"--node-port=" + std::to_string(busy)}, "cannot open node port"},
         }) {
      std::vector<std::string> args{"--protocol=chat", "--port=0"};
      args.insert(args.end(), x.args.begin(), x.args.end());
      auto r = kam::test::run_to_exit(bin, args);
      CHECK_MESSAGE(r.code == 2, x.says);
      CHECK_MESSAGE(r.err.find(x.says) != std::string::npos, r.err);
      CHECK(kam::test::count_lines(r.err) == 1);
    }
  }

  TEST_CASE("2 nodes behind haproxy (roundrobin, send-proxy-v2): clients on both talk") {
    if (!std::filesystem::exists("/usr/sbin/haproxy")) {
      MESSAGE("haproxy not installed (scripts/bootstrap.sh installs it)");
      return;
    }
    chat_node a{{"--proxy-protocol"}};
    chat_node b{{"--proxy-protocol", "--join=" + a.address()}};
    REQUIRE(a.logs_up(b));
    REQUIRE(b.logs_up(a));
    kam::test::haproxy hap{"  balance roundrobin\n  server a 127.0.0.1:" +
                           std::to_string(a.port) + " send-proxy-v2\n  server b 127.0.0.1:" +
                           std::to_string(b.port) + " send-proxy-v2\n"};
    // Round robin: the two clients go one to each node.
    chat_client x{hap.port};
    chat_client y{hap.port};
    std::this_thread::sleep_for(400ms);
    REQUIRE(x.c.send_all(numbered("x", 0, 20)));
    REQUIRE(y.read_lines(20));
    CHECK(numbers_from(y.lines, "x") == iota(0, 20));
    REQUIRE(y.c.send_all(numbered("y", 0, 20)));
    REQUIRE(x.read_lines(20));
    CHECK(numbers_from(x.lines, "y") == iota(0, 20));
  }
}
