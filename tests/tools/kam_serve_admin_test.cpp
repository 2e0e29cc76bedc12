// The admin endpoint of kam-serve (--admin-port): /metrics checked by
// promtool and parsed back for exact values after a known load, /healthz
// through a drain, /graph and /graph.dot naming live connections, and the
// page at / rendered by headless Chromium. Each test starts its own kam-serve
// on loopback with --port=0 --admin-port=0; every wait is bounded.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/tcp_client.hpp"

namespace {

using namespace std::chrono_literals;
using kam::test::bin_path;
using kam::test::child_process;
using kam::test::port_of;
using kam::test::run_to_exit;
using kam::test::tcp_client;
using steady = std::chrono::steady_clock;

const std::string loopback = "127.0.0.1";

/// A kam-serve child with its admin endpoint.
struct admin_server {
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;
  uint16_t admin = 0;
};

admin_server start(std::vector<std::string> args) {
  admin_server s;
  args.insert(args.end(), {"--host=127.0.0.1", "--port=0", "--admin-port=0"});
  s.proc = std::make_unique<child_process>(bin_path("kam-serve"), args);
  REQUIRE(s.proc->pid() > 0);
  auto line = s.proc->wait_for_line("listening on", 10000ms);
  if (!line) {
    auto rc = s.proc->wait_exit(2000ms);
    FAIL("kam-serve did not start; exit=" << (rc ? std::to_string(*rc) : "running")
                                          << " stdout='" << s.proc->out() << "' stderr='"
                                          << s.proc->err() << "'");
  }
  s.port = port_of(*line);
  // "admin at HOST:PORT" comes before "listening on" (already read).
  auto& out = s.proc->out();
  auto pos = out.find("admin at ");
  REQUIRE_MESSAGE(pos != std::string::npos, "no admin line in '" << out << "'");
  REQUIRE(pos < out.find("listening on"));
  auto eol = out.find('\n', pos);
  auto colon = out.rfind(':', eol);
  s.admin = static_cast<uint16_t>(std::stoi(out.substr(colon + 1, eol - colon - 1)));
  REQUIRE(s.port != 0);
  REQUIRE(s.admin != 0);
  REQUIRE(s.admin != s.port);
  return s;
}

struct http_reply {
  int status = 0;
  std::string head;
  std::string body;
};

/// One GET over a fresh connection (Connection: close), read to EOF.
http_reply get(uint16_t port, const std::string& path) {
  http_reply r;
  tcp_client c{loopback, port};
  if (!c.ok())
    return r;
  if (!c.send_all("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    return r;
  bool eof = false;
  auto all = c.recv_until_eof(eof, 5000ms);
  auto end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
    return r;
  r.status = std::atoi(all.c_str() + 9);
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

/// Sample lines of a scrape: "name{labels}" -> value.
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    if (eol == std::string::npos)
      eol = text.size();
    auto line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

std::map<std::string, double> scrape(uint16_t admin) {
  auto r = get(admin, "/metrics");
  REQUIRE(r.status == 200);
  REQUIRE(r.head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  return parse_metrics(r.body);
}

/// Scrapes until `pred(metrics)` holds (at most `timeout`); returns the last.
template <class Pred>
std::map<std::string, double> scrape_until(uint16_t admin, Pred pred,
                                           std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = steady::now() + timeout;
  auto m = scrape(admin);
  while (!pred(m) && steady::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    m = scrape(admin);
  }
  return m;
}

uint16_t local_port(const tcp_client& c) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  ::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = "/tmp/kam-admin-test-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream{path} << text;
  return path;
}

/// Runs a shell command; its exit code and stdout+stderr.
std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  auto* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr)
    return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

} // namespace

TEST_SUITE("tools/kam_serve_admin") {
  TEST_CASE("bad --admin-port values exit 2 with one line") {
    struct bad_case {
      std::vector<std::string> args;
      std::string needle;
    };
    std::vector<bad_case> cases{
      {{"--admin-port=65536"}, "admin-port"},
      {{"--admin-port=-2"}, "admin-port"},
      {{"--port=4567", "--admin-port=4567"}, "admin-port"},
      {{"--admin-port=0", "--admin-host=no.such.host.invalid"}, "admin endpoint"},
    };
    for (auto& c : cases) {
      auto args = c.args;
      args.push_back("--threads=1");
      if (c.args[0].rfind("--port", 0) != 0)
        args.push_back("--port=0");
      auto r = run_to_exit(bin_path("kam-serve"), args);
      CAPTURE(c.args[0]);
      REQUIRE(r.code.has_value());
      CHECK(*r.code == 2);
      CHECK(kam::test::count_lines(r.err) == 1);
      CHECK_MESSAGE(r.err.find(c.needle) != std::string::npos, r.err);
    }
  }

  TEST_CASE("/metrics passes promtool and counts a known echo load exactly") {
    auto srv = start({"--protocol=echo", "--threads=2"});
    auto first = get(srv.admin, "/metrics");
    REQUIRE(first.status == 200);
    auto file = write_temp("metrics.txt", first.body);
    auto [rc, out] = shell("promtool check metrics < " + file);
    std::remove(file.c_str());
    CHECK_MESSAGE(rc == 0, "promtool check metrics: " << out);
    CHECK_MESSAGE(out.empty(), "promtool lint: " << out);
    for (auto* name :
         {"kam_connections_accepted_total", "kam_connections_active",
          "kam_bytes_received_total", "kam_node_peers", "kam_actors_live",
          "kam_proxy_header_rejects_total", "kam_backpressure_pauses_total",
          "kam_chat_lines_delivered_total", "kam_tls_handshake_failures_total",
          "kam_backplane_slow_disconnects_total", "kam_backplane_relay_dropped_total",
          "kam_forced_closes_total"}) {
      CAPTURE(name);
      CHECK(first.body.find(std::string{"# HELP "} + name + " ") != std::string::npos);
      CHECK(first.body.find(std::string{"# TYPE "} + name + " ") != std::string::npos);
    }

    constexpr size_t conns = 5;
    constexpr size_t per_conn = 100000;
    {
      std::vector<tcp_client> clients;
      for (size_t i = 0; i < conns; ++i) {
        clients.emplace_back(loopback, srv.port);
        REQUIRE(clients.back().ok());
      }
      auto mid = scrape_until(
        srv.admin, [&](auto& m) { return m["kam_connections_active"] == conns; });
      CHECK(mid["kam_connections_active"] == conns);
      for (size_t i = 0; i < conns; ++i) {
        auto data = kam::test::random_bytes(per_conn, static_cast<uint32_t>(i + 1));
        REQUIRE(clients[i].send_all(data));
        REQUIRE(clients[i].recv_exact(per_conn) == data);
      }
    } // all closed
    auto m = scrape_until(
      srv.admin, [&](auto& x) { return x["kam_connections_closed_total"] == conns; });
    // The admin's own connections (every scrape above) are not counted.
    CHECK(m["kam_connections_accepted_total"] == conns);
    CHECK(m["kam_connections_closed_total"] == conns);
    CHECK(m["kam_connections_active"] == 0);
    CHECK(m["kam_bytes_received_total"] == conns * per_conn);
    CHECK(m["kam_bytes_sent_total"] == conns * per_conn);
    CHECK(m["kam_handler_failures_total"] == 0);
    CHECK(m["kam_node_peers"] == 0);
    CHECK(m["kam_draining"] == 0);
    CHECK(m["kam_actors_live"] > 0);
    CHECK(m.count("kam_io_thread_busy_seconds_total{thread=\"0\"}") == 1);
    CHECK(m.count("kam_io_thread_busy_seconds_total{thread=\"1\"}") == 1);
    CHECK(m.count("kam_io_thread_busy_seconds_total{thread=\"2\"}") == 0);
    CHECK(m["kam_io_thread_busy_seconds_total{thread=\"0\"}"] +
            m["kam_io_thread_busy_seconds_total{thread=\"1\"}"] >
          0);
    // The admin's own I/O thread is kam.admin.0, not a third kam.io.N
    // (tools that read per-thread CPU by name must tell them apart).
    std::multiset<std::string> names;
    auto task = "/proc/" + std::to_string(srv.proc->pid()) + "/task";
    for (auto& t : std::filesystem::directory_iterator(task)) {
      std::ifstream comm{t.path() / "comm"};
      std::string n;
      std::getline(comm, n);
      names.insert(n);
    }
    CHECK(names.count("kam.io.0") == 1);
    CHECK(names.count("kam.io.1") == 1);
    CHECK(names.count("kam.io.2") == 0);
    CHECK(names.count("kam.admin.0") == 1);
    // Each I/O thread's accepts, summing to the total (the kernel picks the
    // listener: not necessarily half each).
    CHECK(m.count("kam_io_thread_connections_accepted_total{thread=\"2\"}") == 0);
    CHECK(m["kam_io_thread_connections_accepted_total{thread=\"0\"}"] +
            m["kam_io_thread_connections_accepted_total{thread=\"1\"}"] ==
          conns);
    srv.proc->signal(SIGTERM);
    auto rc2 = srv.proc->wait_exit(10000ms);
    REQUIRE(rc2.has_value());
    CHECK(*rc2 == 0);
  }

  TEST_CASE("/metrics counts HTTP responses by status class; a 400 for garbage is 4xx") {
    auto srv = start({"--protocol=http", "--threads=1"});
    CHECK(get(srv.port, "/").status == 200);
    CHECK(get(srv.port, "/missing").status == 404);
    {
      tcp_client c{loopback, srv.port};
      REQUIRE(c.ok());
      REQUIRE(c.send_all("NOT HTTP AT ALL\r\n\r\n"));
      bool eof = false;
      auto reply = c.recv_until_eof(eof, 5000ms);
      CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    }
    auto m = scrape_until(
      srv.admin, [](auto& x) { return x["kam_http_requests_total{code=\"4xx\"}"] == 2; });
    CHECK(m["kam_http_requests_total{code=\"2xx\"}"] == 1);
    CHECK(m["kam_http_requests_total{code=\"4xx\"}"] == 2);
    CHECK(m["kam_http_requests_total{code=\"1xx\"}"] == 0);
    CHECK(m["kam_http_requests_total{code=\"3xx\"}"] == 0);
    CHECK(m["kam_http_requests_total{code=\"5xx\"}"] == 0);
  }

  TEST_CASE("/metrics counts chat lines delivered and dropped") {
    auto srv = start({"--protocol=chat", "--threads=1", "--max-line=16"});
    tcp_client a{loopback, srv.port};
    tcp_client b{loopback, srv.port};
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    // Until b is subscribed, a's lines reach no one (and are not counted):
    // probe until one arrives, then send a known number.
    std::string got;
    auto deadline = steady::now() + 5000ms;
    while (got.find("probe\n") == std::string::npos && steady::now() < deadline) {
      REQUIRE(a.send_all("probe\n"));
      got += b.recv_some(50ms);
    }
    REQUIRE(got.find("probe\n") != std::string::npos);
    for (int i = 0; i < 10; ++i)
      REQUIRE(a.send_all("line\n"));
    deadline = steady::now() + 5000ms;
    auto count = [](const std::string& s, const std::string& needle) {
      size_t n = 0;
      for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1))
        ++n;
      return n;
    };
    while (count(got, "line\n") < 10 && steady::now() < deadline)
      got += b.recv_some(100ms);
    REQUIRE(count(got, "line\n") == 10);
    auto lines = kam::test::count_lines(got);
    tcp_client c{loopback, srv.port};
    REQUIRE(c.ok());
    REQUIRE(c.send_all(std::string(40, 'x') + "\n")); // over --max-line=16
    CHECK(kam::test::sees_eof(c));
    auto m = scrape_until(srv.admin,
                          [](auto& x) { return x["kam_chat_lines_dropped_total"] == 1; });
    CHECK(m["kam_chat_lines_delivered_total"] == lines);
    CHECK(m["kam_chat_lines_dropped_total"] == 1);
  }

  TEST_CASE("/healthz is 200 while serving and 503 while draining; the admin stays up") {
    auto srv = start({"--protocol=echo", "--threads=1", "--drain-timeout=20",
                      "--write-high-watermark=65536", "--write-low-watermark=16384",
                      "--write-hard-limit=262144"});
    auto ok = get(srv.admin, "/healthz");
    CHECK(ok.status == 200);
    CHECK(ok.body == "ok\n");
    // A client that sends but never reads: its echo cannot be flushed, so
    // the drain lasts until it goes away.
    tcp_client slow{loopback, srv.port};
    REQUIRE(slow.ok());
    std::string chunk(64 * 1024, 's');
    size_t sent = 0;
    while (sent < (size_t{64} << 20) && slow.send_all(chunk, 300ms))
      sent += chunk.size();
    REQUIRE(sent < (size_t{64} << 20)); // it stalled
    srv.proc->signal(SIGTERM);
    auto m = scrape_until(srv.admin, [](auto& x) { return x["kam_draining"] == 1; });
    CHECK(m["kam_draining"] == 1);
    auto during = get(srv.admin, "/healthz");
    CHECK(during.status == 503);
    CHECK(get(srv.admin, "/graph").status == 200);
    CHECK_MESSAGE(!srv.proc->wait_exit(0ms).has_value(), "exited while draining");
    slow.reset();
    auto rc = srv.proc->wait_exit(10000ms);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
  }

  TEST_CASE(
    "/graph and /graph.dot show every live connection with its CSA, handler and links") {
    auto srv = start({"--protocol=echo", "--threads=2"});
    std::vector<tcp_client> clients;
    std::set<std::string> peers;
    for (int i = 0; i < 3; ++i) {
      clients.emplace_back(loopback, srv.port);
      REQUIRE(clients.back().ok());
      REQUIRE(kam::test::round_trip(clients.back(), "hi\n"));
      peers.insert("127.0.0.1:" + std::to_string(local_port(clients.back())));
    }
    auto r = get(srv.admin, "/graph");
    REQUIRE(r.status == 200);
    CHECK(r.head.find("Content-Type: application/json") != std::string::npos);
    auto g = nlohmann::json::parse(r.body);
    CHECK(g["complete"] == true);
    REQUIRE(g["connections"].size() == 3);
    std::set<std::string> seen;
    for (auto& c : g["connections"])
      seen.insert(c["peer"].get<std::string>());
    CHECK(seen == peers);
    std::map<uint64_t, nlohmann::json> by_id;
    for (auto& c : g["components"]) {
      REQUIRE(c.contains("inboxes"));
      REQUIRE(c.contains("outboxes"));
      by_id[c["id"].get<uint64_t>()] = c;
    }
    auto has_link = [&](uint64_t from, const char* out, uint64_t to, const char* in) {
      for (auto& l : g["links"])
        if (l["from"][0] == from && l["from"][1] == out && l["to"][0] == to &&
            l["to"][1] == in)
          return true;
      return false;
    };
    size_t chassis = 0;
    for (auto& [id, c] : by_id)
      if (c["kind"] == "chassis")
        ++chassis;
    CHECK(chassis == 1);
    for (auto& c : g["connections"]) {
      auto csa = c["csa"].get<uint64_t>();
      auto handler = c["handler"].get<uint64_t>();
      REQUIRE(by_id.count(csa) == 1);
      REQUIRE(by_id.count(handler) == 1);
      CHECK(by_id[csa]["kind"] == "csa");
      CHECK(by_id[handler]["kind"] == "handler");
      CHECK(by_id[csa]["connection"] == c["id"]);
      CHECK(by_id[handler]["connection"] == c["id"]);
      CHECK(has_link(csa, "outbox", handler, "inbox"));
      CHECK(has_link(csa, "ctrlout", handler, "control"));
      CHECK(has_link(handler, "outbox", csa, "inbox"));
      CHECK(has_link(handler, "signal", csa, "control"));
    }
    auto dot = get(srv.admin, "/graph.dot");
    REQUIRE(dot.status == 200);
    CHECK(dot.body.rfind("digraph", 0) == 0);
    for (auto& p : peers)
      CHECK(dot.body.find(p) != std::string::npos);
    CHECK(dot.body.find("cluster_conn") != std::string::npos);
    // The served connections still work (introspection stopped nothing).
    for (auto& c : clients)
      CHECK(kam::test::round_trip(c, "still here\n"));
  }

  TEST_CASE("the page at / draws the live connections in headless Chromium") {
    auto [vrc, version] = shell("chromium --version");
    if (vrc != 0) {
      MESSAGE("skipped: chromium cannot run here (" << version << ")");
      return;
    }
    auto srv = start({"--protocol=echo", "--threads=2"});
    std::vector<tcp_client> clients;
    std::vector<std::string> peers;
    for (int i = 0; i < 3; ++i) {
      clients.emplace_back(loopback, srv.port);
      REQUIRE(clients.back().ok());
      REQUIRE(kam::test::round_trip(clients.back(), "hi\n"));
      peers.push_back("127.0.0.1:" + std::to_string(local_port(clients.back())));
    }
    auto page = get(srv.admin, "/");
    REQUIRE(page.status == 200);
    CHECK(page.body.find("<script>") != std::string::npos);
    CHECK(page.body.find("src=") == std::string::npos); // no external assets
    auto url = "http://127.0.0.1:" + std::to_string(srv.admin) + "/";
    auto profile = "/tmp/kam-admin-chromium-" + std::to_string(::getpid());
    auto [rc, dom] =
      shell("timeout 60 chromium --headless --no-sandbox --disable-gpu "
            "--user-data-dir=" +
            profile + " --virtual-time-budget=5000 --dump-dom " + url + " 2>/dev/null");
    shell("rm -rf " + profile);
    REQUIRE_MESSAGE(rc == 0, "chromium failed: " << dom);
    for (auto& p : peers) {
      CAPTURE(p);
      CHECK(dom.find("connection ") != std::string::npos);
      CHECK(dom.find(p) != std::string::npos);
    }
    CHECK(dom.find("class=\"comp csa\"") != std::string::npos);
    CHECK(dom.find("class=\"comp handler\"") != std::string::npos);
  }
}
