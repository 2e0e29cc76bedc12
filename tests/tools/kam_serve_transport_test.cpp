// kam-serve's Unix-socket listener (--unix, --unix-mode) and PROXY protocol
// (--proxy-protocol, --proxy-from) with real clients: socat, nc -U, curl
// --unix-socket, Python, and a real haproxy in front (mode tcp, send-proxy /
// send-proxy-v2, source 127.0.0.5, health checks), the client bound to
// 127.0.0.9. Everything on loopback.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "tests/support/haproxy.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_certs.hpp"

namespace {

using namespace std::chrono_literals;
using kam::test::bin_path;
using kam::test::certs;
using kam::test::child_process;
using kam::test::count_lines;
using kam::test::haproxy;
using kam::test::port_of;
using kam::test::run_to_exit;
using kam::test::temp_dir;

struct server {
  std::unique_ptr<child_process> proc;
  std::string line; ///< "listening on ..."
  uint16_t port = 0;
};

server start(std::vector<std::string> args) {
  server s;
  if (std::find(args.begin(), args.end(), "--threads=2") == args.end())
    args.push_back("--threads=1");
  args.push_back("--log-level=info");
  s.proc = std::make_unique<child_process>(bin_path("kam-serve"), args);
  auto line = s.proc->wait_for_line("listening on", 10000ms);
  if (!line) {
    s.proc->wait_exit(2000ms);
    FAIL("kam-serve did not start: " << s.proc->err());
  }
  s.line = *line;
  s.port = port_of(*line);
  return s;
}

/// SIGTERM, exit 0; returns stderr (the "stopped:" line has the counts).
std::string stop(server& s) {
  s.proc->signal(SIGTERM);
  auto rc = s.proc->wait_exit(10000ms);
  REQUIRE(rc);
  CHECK_MESSAGE(*rc == 0, s.proc->err());
  return s.proc->err();
}

/// Runs a shell command line (bounded), returns (exit code, stdout+stderr).
std::pair<int, std::string> shell(const std::string& cmd) {
  child_process p{"/bin/sh", {"-c", cmd}};
  auto rc = p.wait_exit(30000ms);
  p.wait_for_line("\x01never\x01", 100ms); // collect stdout after the exit
  return {rc ? *rc : -1, p.out() + p.err()};
}

/// Runs a Python script with `args` as argv[1..]; returns (exit code, output).
std::pair<int, std::string> python(const std::string& script,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv{"-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process p{"/usr/bin/python3", argv};
  auto rc = p.wait_exit(30000ms);
  p.wait_for_line("\x01never\x01", 100ms);
  return {rc ? *rc : -1, p.out() + p.err()};
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Reads `path` until it has `n` lines (bounded); returns its text.
std::string wait_lines(const std::string& path, size_t n) {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = read_file(path);
    if (count_lines(text) >= n)
      break;
    std::this_thread::sleep_for(25ms);
  }
  return text;
}

/// haproxy in front of 127.0.0.1:backend, connecting from 127.0.0.5 with
/// `send` (send-proxy or send-proxy-v2, and more server options) and health
/// checks every 100 ms.
std::string kam_backend(uint16_t backend, const std::string& send) {
  return "  server kam 127.0.0.1:" + std::to_string(backend) + " " + send +
         " source 127.0.0.5 check inter 100ms\n";
}

/// Whether stderr has `what`, e.g. "PROXY protocol: 2 header rejects".
bool says(const std::string& err, const std::string& what) {
  return err.find(what) != std::string::npos;
}

} // namespace

TEST_SUITE("tools/kam_serve Unix sockets") {
  TEST_CASE("--unix: echo with socat and nc -U on two I/O threads, mode 0660, unlinked "
            "on exit") {
    temp_dir dir;
    auto path = dir / "echo.sock";
    auto srv = start({"--protocol=echo", "--unix=" + path, "--threads=2"});
    CHECK(srv.line == "listening on unix:" + path);
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);
    for (int i = 0; i < 4; ++i) { // several connections: both threads may take some
      auto [rc, out] = shell("printf 'hello socat %d\\n' " + std::to_string(i) +
                             " | timeout 10 socat -t5 - UNIX-CONNECT:" + path);
      CHECK(rc == 0);
      CHECK_MESSAGE(out == "hello socat " + std::to_string(i) + "\n", out);
    }
    auto [rc, out] = shell("printf 'hello nc\\n' | timeout 10 nc -N -w 5 -U " + path);
    CHECK(rc == 0);
    CHECK_MESSAGE(out == "hello nc\n", out);
    auto err = stop(srv);
    CHECK(says(err, "5 connections accepted"));
    CHECK(::lstat(path.c_str(), &st) != 0); // unlinked
  }

  TEST_CASE("--unix-mode sets the socket file's permissions; a bad one exits 2") {
    temp_dir dir;
    auto path = dir / "m.sock";
    auto srv = start({"--protocol=echo", "--unix=" + path, "--unix-mode=0600"});
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    stop(srv);
    for (auto bad : {"0999", "abc", "01777", ""}) {
      CAPTURE(bad);
      auto o = run_to_exit(bin_path("kam-serve"), {"--unix=" + dir / "x.sock",
                                                   std::string{"--unix-mode="} + bad});
      CHECK(o.code == 2);
      CHECK(count_lines(o.err) == 1);
      CHECK(o.err.find("--unix-mode") != std::string::npos);
    }
  }

  TEST_CASE("http over --unix with curl --unix-socket; the access log names the client "
            "unix:") {
    temp_dir dir;
    auto path = dir / "http.sock";
    auto log = dir / "access.log";
    auto srv = start({"--protocol=http", "--unix=" + path, "--access-log=" + log});
    auto [rc, out] = shell("curl -sS --max-time 10 --unix-socket " + path +
                           " -o /dev/null -o /dev/null -w '%{http_code}' "
                           "http://localhost/ http://localhost/missing");
    CHECK(rc == 0);
    CHECK_MESSAGE(out == "200404", out);
    auto text = wait_lines(log, 2);
    CHECK_MESSAGE(count_lines(text) == 2, text);
    CHECK_MESSAGE(text.rfind("unix: - - [", 0) == 0, text);
    CHECK(text.find("\nunix: - - [") != std::string::npos);
    stop(srv);
  }

  TEST_CASE("chat over --unix: a line reaches the other client") {
    temp_dir dir;
    auto path = dir / "chat.sock";
    auto srv = start({"--protocol=chat", "--unix=" + path});
    auto [rc, out] = python(R"(
import socket, sys, time
path = sys.argv[1]
a = socket.socket(socket.AF_UNIX); a.settimeout(10); a.connect(path)
b = socket.socket(socket.AF_UNIX); b.settimeout(10); b.connect(path)
time.sleep(0.3)  # both subscribed
a.sendall(b"hello over unix\n")
got = b""
while not got.endswith(b"\n"):
    x = b.recv(100)
    assert x, "EOF"
    got += x
assert got == b"hello over unix\n", got
print("OK")
)",
                            {path});
    CHECK_MESSAGE(rc == 0, out);
    stop(srv);
  }

  TEST_CASE("a stale socket is replaced, a live one is in use, a regular file is never "
            "deleted, and --host/--port conflict with --unix") {
    temp_dir dir;
    auto path = dir / "s.sock";
    // A stale socket: bound by a process that is gone (nobody answers).
    auto [prc, pout] = python(R"(
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
)",
                              {path});
    REQUIRE_MESSAGE(prc == 0, pout);
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    auto srv = start({"--protocol=echo", "--unix=" + path});
    CHECK(srv.line == "listening on unix:" + path);
    // A live one: a second server there is an error, like a port in use.
    auto o = run_to_exit(bin_path("kam-serve"), {"--unix=" + path});
    CHECK(o.code == 2);
    CHECK(count_lines(o.err) == 1);
    CHECK_MESSAGE(o.err.find("in use") != std::string::npos, o.err);
    auto [rc, out] =
      shell("printf 'still mine\\n' | timeout 10 socat -t5 - UNIX-CONNECT:" +
            path); // and the first one still serves
    CHECK(out == "still mine\n");
    stop(srv);
    // A regular file: exit 2, and it is still there, unchanged.
    auto file = dir / "regular";
    std::ofstream{file} << "keep me\n";
    o = run_to_exit(bin_path("kam-serve"), {"--unix=" + file});
    CHECK(o.code == 2);
    CHECK(count_lines(o.err) == 1);
    CHECK_MESSAGE(o.err.find(file) != std::string::npos, o.err);
    CHECK(read_file(file) == "keep me\n");
    o = run_to_exit(bin_path("kam-serve"), {"--unix=" + dir / std::string(120, 'x')});
    CHECK(o.code == 2); // longer than sun_path
    CHECK(count_lines(o.err) == 1);
    CHECK_MESSAGE(o.err.find("longer than") != std::string::npos, o.err);
    for (auto extra : {"--port=0", "--host=127.0.0.1", "--port=1601"}) {
      CAPTURE(extra);
      o = run_to_exit(bin_path("kam-serve"), {"--unix=" + dir / "c.sock", extra});
      CHECK(o.code == 2);
      CHECK(count_lines(o.err) == 1);
      CHECK_MESSAGE(o.err.find("--unix") != std::string::npos, o.err);
      CHECK(::lstat((dir / "c.sock").c_str(), &st) != 0);
    }
  }
}

namespace {

/// Python: echo round trips through a PROXY server at 127.0.0.1:argv[1].
const char* proxy_prelude = R"(
import socket, struct, sys, time
port = int(sys.argv[1])
def conn(src="127.0.0.1"):
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s
def recv_n(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(65536)
        if not b:
            break
        got += b
    return got
def closed(s):
    # Closed without a byte for us (EOF or reset), within the timeout.
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
def v2(cmd, fam, addrs):
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(addrs)) + addrs
def v2_tcp4(src, sport, dst, dport):
    return v2(1, 0x11, socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport))
)";

} // namespace

TEST_SUITE("tools/kam_serve PROXY protocol") {
  TEST_CASE("v1 and v2 headers: data after the header in the same segment reaches the "
            "handler; LOCAL and UNKNOWN are served") {
    auto srv = start({"--protocol=echo", "--port=0", "--proxy-protocol"});
    auto [rc, out] = python(std::string{proxy_prelude} + R"(
cases = [
    b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 1601\r\n",
    b"PROXY TCP6 2001:db8::1 ::1 5555 1601\r\n",
    b"PROXY UNKNOWN\r\n",
    v2_tcp4("192.0.2.8", 6666, "127.0.0.1", 1601),
    v2(0, 0x00, b""),  # LOCAL: a health check
]
for h in cases:
    s = conn()
    s.sendall(h + b"payload after the header\n")  # one segment
    assert recv_n(s, 25) == b"payload after the header\n", h
    s.sendall(b"and more\n")
    assert recv_n(s, 9) == b"and more\n"
    s.close()
# The header split into single bytes, with a pause: still whole.
s = conn()
for b in b"PROXY TCP4 192.0.2.9 127.0.0.1 1 2\r\n":
    s.send(bytes([b]))
    time.sleep(0.002)
s.sendall(b"dripped\n")
assert recv_n(s, 8) == b"dripped\n"
print("OK")
)",
                            {std::to_string(srv.port)});
    CHECK_MESSAGE(rc == 0, out);
    auto err = stop(srv);
    CHECK_MESSAGE(says(err, "6 connections accepted"), err);
    CHECK_MESSAGE(says(err, "PROXY protocol: 0 header rejects"), err);
  }

  TEST_CASE("missing, malformed, truncated, over-long v1 and slow headers are closed "
            "and counted; nothing reaches the handler; others are served meanwhile") {
    auto srv = start({"--protocol=echo", "--port=0", "--proxy-protocol"});
    auto [rc, out] = python(std::string{proxy_prelude} + R"(
t0 = time.time()
slow = conn()
slow.sendall(b"PROXY TCP4 192.0.2.7 ")  # and never the rest
bad = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                 # missing
    b"PROXY TCP4 192.0.2.777 127.0.0.1 1 2\r\nhello\n",   # malformed address
    b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\nhello\n",       # LF without CR
    b"PROXY " + b"x" * 120,                                # no CRLF within 107 bytes
    SIG + b"\x21\x11\x00\x0c\x01\x02",                     # v2 truncated, then FIN
    b"PROXY TCP4 192.0.2.7",                               # v1 truncated, then FIN
]
for junk in bad:
    s = conn()
    s.sendall(junk)
    if junk.endswith(b"\x01\x02") or junk.endswith(b"192.0.2.7"):
        s.shutdown(socket.SHUT_WR)
    assert closed(s), junk
good = conn()
good.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\nserved\n")
assert recv_n(good, 7) == b"served\n"
assert closed(slow)  # at the 3 s deadline
waited = time.time() - t0
assert 2.5 < waited < 8, waited
good.sendall(b"still\n")
assert recv_n(good, 6) == b"still\n"
print("OK", round(waited, 2))
)",
                            {std::to_string(srv.port)});
    CHECK_MESSAGE(rc == 0, out);
    auto err = stop(srv);
    CHECK_MESSAGE(says(err, "PROXY protocol: 7 header rejects"), err);
  }

  TEST_CASE("--proxy-from: a peer outside it is closed and counted; a bad list exits 2") {
    auto srv = start(
      {"--protocol=echo", "--port=0", "--proxy-protocol", "--proxy-from=10.0.0.0/8"});
    auto [rc, out] = python(std::string{proxy_prelude} + R"(
s = conn()
s.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\nhello\n")
assert closed(s)
print("OK")
)",
                            {std::to_string(srv.port)});
    CHECK_MESSAGE(rc == 0, out);
    auto err = stop(srv);
    CHECK_MESSAGE(says(err, "PROXY protocol: 1 header rejects"), err);
    // Allowed: 127.0.0.9 (the client binds it) inside 127.0.0.8/29.
    srv = start({"--protocol=echo", "--port=0", "--proxy-protocol",
                 "--proxy-from=10.0.0.0/8,127.0.0.8/29"});
    std::tie(rc, out) = python(std::string{proxy_prelude} + R"(
s = conn("127.0.0.9")
s.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\nhello\n")
assert recv_n(s, 6) == b"hello\n"
s = conn("127.0.0.1")
s.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\nhello\n")
assert closed(s)
print("OK")
)",
                               {std::to_string(srv.port)});
    CHECK_MESSAGE(rc == 0, out);
    err = stop(srv);
    CHECK_MESSAGE(says(err, "PROXY protocol: 1 header rejects"), err);
    auto o = run_to_exit(bin_path("kam-serve"),
                         {"--port=0", "--proxy-protocol", "--proxy-from=10.0.0.0/33"});
    CHECK(o.code == 2);
    CHECK(count_lines(o.err) == 1);
    CHECK_MESSAGE(o.err.find("--proxy-from") != std::string::npos, o.err);
  }

  TEST_CASE("behind haproxy (send-proxy and send-proxy-v2, source 127.0.0.5): the access "
            "log shows the client 127.0.0.9 for every keep-alive request; health checks "
            "are no rejects") {
    for (std::string send : {"send-proxy", "send-proxy-v2"}) {
      CAPTURE(send);
      temp_dir dir;
      auto log = dir / "access.log";
      auto srv =
        start({"--protocol=http", "--port=0", "--proxy-protocol", "--access-log=" + log});
      haproxy hap{kam_backend(srv.port, send)};
      // Two requests on one keep-alive connection, then one more connection.
      auto url = "http://127.0.0.1:" + std::to_string(hap.port);
      auto [rc, out] =
        shell("curl -sS --max-time 10 --interface 127.0.0.9 -o /dev/null -o /dev/null "
              "-w '%{http_code} %{num_connects}\\n' " +
              url + "/ " + url + "/missing && curl -sS --max-time 10 --interface " +
              "127.0.0.9 -o /dev/null -w '%{http_code}\\n' " + url + "/");
      CHECK(rc == 0);
      CHECK_MESSAGE(out == "200 1\n404 0\n200\n", out); // the second reused the first
      auto text = wait_lines(log, 3);
      CHECK_MESSAGE(count_lines(text) == 3, text);
      size_t from_client = 0;
      for (size_t pos = 0; (pos = text.find("127.0.0.9 - - [", pos)) != std::string::npos;
           ++pos)
        ++from_client;
      CHECK_MESSAGE(from_client == 3, text);
      CHECK(text.find("127.0.0.5") == std::string::npos);
      std::this_thread::sleep_for(500ms); // a few health checks (every 100 ms)
      hap.proc->signal(SIGTERM);
      hap.proc->wait_exit(5000ms);
      auto err = stop(srv);
      CHECK_MESSAGE(says(err, "PROXY protocol: 0 header rejects"), err);
      // The two client connections and at least three checks.
      auto pos = err.find("stopped: ");
      REQUIRE(pos != std::string::npos);
      auto accepted = std::strtoul(err.c_str() + pos + 9, nullptr, 10);
      CHECK_MESSAGE(accepted >= 5, err);
    }
  }

  TEST_CASE("PROXY before TLS: a v1 header, then the TLS handshake on the same socket; "
            "and TLS through haproxy send-proxy") {
    temp_dir dir;
    auto log = dir / "access.log";
    auto srv = start({"--protocol=http", "--port=0", "--proxy-protocol",
                      "--tls-cert=" + certs().server, "--tls-key=" + certs().server_key,
                      "--access-log=" + log});
    auto [rc, out] = python(std::string{proxy_prelude} + R"(
import ssl
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = conn()
raw.sendall(b"PROXY TCP4 192.0.2.44 127.0.0.1 4444 443\r\n")
s = ctx.wrap_socket(raw, server_hostname="localhost")
assert s.version() in ("TLSv1.3", "TLSv1.2"), s.version()
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
assert s.recv(100).startswith(b"HTTP/1.1 200"), "no response"
print("OK")
)",
                            {std::to_string(srv.port), certs().ca});
    CHECK_MESSAGE(rc == 0, out);
    // haproxy's v1 checks name real addresses (not UNKNOWN) and leave before
    // any TLS: check-ssl makes them complete a handshake, as a TLS backend needs.
    haproxy hap{kam_backend(srv.port, "send-proxy check-ssl verify none")};
    std::tie(rc, out) =
      shell("curl -sS --max-time 10 --interface 127.0.0.9 --cacert " + certs().ca +
            " --resolve localhost:" + std::to_string(hap.port) +
            ":127.0.0.1 -o /dev/null -w '%{http_code}' https://localhost:" +
            std::to_string(hap.port) + "/");
    CHECK(rc == 0);
    CHECK_MESSAGE(out == "200", out);
    auto text = wait_lines(log, 2);
    CHECK_MESSAGE(text.rfind("192.0.2.44 - - [", 0) == 0, text);
    CHECK_MESSAGE(text.find("\n127.0.0.9 - - [") != std::string::npos, text);
    hap.stop_checks("kam"); // SIGTERM must not cut a check mid-handshake
    hap.proc->signal(SIGTERM);
    hap.proc->wait_exit(5000ms);
    auto err = stop(srv);
    CHECK_MESSAGE(says(err, ", 0 TLS handshake failures"), err);
    CHECK_MESSAGE(says(err, "PROXY protocol: 0 header rejects"), err);
  }

  TEST_CASE("SIGTERM: a connection still waiting for its header is closed at once, a "
            "proxied one is drained") {
    auto srv = start({"--protocol=echo", "--port=0", "--proxy-protocol"});
    auto [rc, out] = python(std::string{proxy_prelude} + R"(
import os, signal
pid = int(sys.argv[2])
waiting = conn()
waiting.sendall(b"PROXY TCP4 ")  # the rest never comes
proxied = conn()
proxied.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\nwarm up\n")
assert recv_n(proxied, 8) == b"warm up\n"
data = b"sent right before the signal\n" * 100
proxied.sendall(data)
t0 = time.time()
os.kill(pid, signal.SIGTERM)
assert closed(waiting)
assert time.time() - t0 < 2, time.time() - t0  # not at the 3 s deadline
got = b""
while True:
    b = proxied.recv(65536)
    if not b:
        break
    got += b
assert got == data, len(got)
print("OK")
)",
                            {std::to_string(srv.port), std::to_string(srv.proc->pid())});
    CHECK_MESSAGE(rc == 0, out);
    auto exit = srv.proc->wait_exit(10000ms);
    REQUIRE(exit);
    CHECK(*exit == 0);
  }

  TEST_CASE("IPv6: ::1 may send a header by default, TCP6 names the client") {
    temp_dir dir;
    auto log = dir / "access.log";
    auto srv = start({"--protocol=http", "--host=::1", "--port=0", "--proxy-protocol",
                      "--access-log=" + log});
    auto [rc, out] = python(R"(
import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=10)
s.sendall(b"PROXY TCP6 2001:db8::7 ::1 4242 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
assert s.recv(100).startswith(b"HTTP/1.1 200")
print("OK")
)",
                            {std::to_string(srv.port)});
    CHECK_MESSAGE(rc == 0, out);
    auto text = wait_lines(log, 1);
    CHECK_MESSAGE(text.rfind("2001:db8::7 - - [", 0) == 0, text);
    stop(srv);
  }

  TEST_CASE("PROXY over --unix: haproxy-style v2 header on a Unix socket") {
    temp_dir dir;
    auto path = dir / "p.sock";
    auto log = dir / "access.log";
    auto srv = start(
      {"--protocol=http", "--unix=" + path, "--proxy-protocol", "--access-log=" + log});
    auto [rc, out] = python(R"(
import socket, struct, sys
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
addrs = socket.inet_aton("192.0.2.50") + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 5050, 80)
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
s.sendall(SIG + b"\x21\x11" + struct.pack("!H", len(addrs)) + addrs +
          b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
assert s.recv(100).startswith(b"HTTP/1.1 200")
print("OK")
)",
                            {path});
    CHECK_MESSAGE(rc == 0, out);
    auto text = wait_lines(log, 1);
    CHECK_MESSAGE(text.rfind("192.0.2.50 - - [", 0) == 0, text);
    stop(srv);
  }
}
