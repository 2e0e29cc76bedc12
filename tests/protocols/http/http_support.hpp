#pragma once
// Helpers for the HTTP tests: a served temp directory, a kam-serve child,
// a raw HTTP/1.1 response reader over tests/support/tcp_client.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/process.hpp"
#include "tests/support/tcp_client.hpp"

namespace kam::test::http {

using namespace std::chrono_literals;

/// A temp directory: root/ (served) holding small.txt (100 B), k16.bin
/// (16 KiB), big.bin (4 MiB), sub/index.html, in.txt -> small.txt, and
/// symlinks leaving the root; secret.txt lies beside root/, outside it.
struct site {
  std::string base;
  std::string root;
  std::string small, k16, big, index;

  site() {
    char tmpl[] = "/tmp/kam-http-XXXXXX";
    base = ::mkdtemp(tmpl);
    root = base + "/root";
    small = std::string(100, 's');
    for (size_t i = 0; i < small.size(); ++i)
      small[i] = static_cast<char>('a' + i % 26);
    k16 = random_bytes(16 * 1024, 7);
    big = random_bytes(4 * 1024 * 1024, 11);
    index = "<p>index</p>\n";
    std::system(("mkdir -p " + root + "/sub").c_str());
    put(root + "/small.txt", small);
    put(root + "/k16.bin", k16);
    put(root + "/big.bin", big);
    put(root + "/sub/index.html", index);
    put(base + "/secret.txt", "SECRET\n");
    ::symlink("small.txt", (root + "/in.txt").c_str());
    ::symlink("../secret.txt", (root + "/up.txt").c_str());
    ::symlink((base + "/secret.txt").c_str(), (root + "/abs.txt").c_str());
    ::symlink("/etc", (root + "/etc").c_str());
  }
  ~site() { std::system(("rm -rf " + base).c_str()); }

  static void put(const std::string& path, const std::string& data) {
    std::ofstream f{path, std::ios::binary};
    f << data;
  }
};

/// A kam-serve --protocol=http child on 127.0.0.1, port 0.
struct server {
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  explicit server(std::vector<std::string> extra) {
    std::vector<std::string> args{"--protocol=http", "--host=127.0.0.1", "--port=0",
                                  "--threads=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<child_process>(bin_path("kam-serve"), args);
    REQUIRE(proc->pid() > 0);
    auto line = proc->wait_for_line("listening on", 10000ms);
    REQUIRE(line);
    port = port_of(*line);
    REQUIRE(port != 0);
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
};

struct response {
  int status = 0;
  std::string head;                          // status line and fields
  std::map<std::string, std::string> fields; // lower-case names
  std::string body;
  bool ok = false;

  std::string field(const std::string& name) const {
    auto i = fields.find(name);
    return i == fields.end() ? std::string{} : i->second;
  }
  bool has(const std::string& name) const { return fields.count(name) > 0; }
};

/// Reads one response from `c`, keeping bytes after it in `rest`.
/// `no_body`: the request was HEAD (or the status has none).
inline response read_response(tcp_client& c, std::string& rest, bool no_body = false,
                              std::chrono::milliseconds timeout = 5000ms) {
  response r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto more = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    auto got = c.recv_some(left);
    if (got.empty())
      return false;
    rest += got;
    return true;
  };
  size_t eoh;
  while ((eoh = rest.find("\r\n\r\n")) == std::string::npos)
    if (!more())
      return r;
  r.head = rest.substr(0, eoh);
  rest.erase(0, eoh + 4);
  r.status = std::atoi(r.head.c_str() + 9);
  size_t pos = r.head.find("\r\n");
  while (pos != std::string::npos) {
    auto next = r.head.find("\r\n", pos + 2);
    auto line = r.head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                                 : next - pos - 2);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto name = line.substr(0, colon);
      for (auto& ch : name)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      r.fields[name] = value;
    }
    pos = next;
  }
  size_t len = 0;
  if (!no_body && r.status != 304 && r.status != 100 && r.has("content-length"))
    len = std::stoull(r.field("content-length"));
  while (rest.size() < len)
    if (!more())
      return r;
  r.body = rest.substr(0, len);
  rest.erase(0, len);
  r.ok = true;
  return r;
}

/// One request on a fresh connection; returns its response.
inline response fetch(uint16_t port, const std::string& request, bool no_body = false) {
  tcp_client c{"127.0.0.1", port};
  REQUIRE(c.ok());
  REQUIRE(c.send_all(request));
  std::string rest;
  return read_response(c, rest, no_body);
}

inline std::string get(const std::string& path, const std::string& extra = {}) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

} // namespace kam::test::http
