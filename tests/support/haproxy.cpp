#include "tests/support/haproxy.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <doctest/doctest.h>

namespace kam::test {

temp_dir::temp_dir() {
  char name[] = "/tmp/kam-test-XXXXXX";
  REQUIRE(::mkdtemp(name) != nullptr);
  path = name;
}

temp_dir::~temp_dir() {
  auto cmd = "rm -rf '" + path + "'";
  if (std::system(cmd.c_str()) != 0)
    MESSAGE("could not remove " << path);
}

bool listening(uint16_t port) {
  std::ifstream in{"/proc/net/tcp"};
  char want[32];
  std::snprintf(want, sizeof(want), "0100007F:%04X", port);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f{line};
    std::string slot, local, remote, state;
    f >> slot >> local >> remote >> state;
    if (local == want && state == "0A")
      return true;
  }
  return false;
}

haproxy::haproxy(const std::string& backend) {
  for (int attempt = 0; attempt < 5 && !proc; ++attempt) {
    port = free_port();
    std::ofstream cfg{dir / "haproxy.cfg"};
    cfg << "global\n"
           "  maxconn 100\n"
           "  stats socket "
        << (dir / "admin.sock")
        << " level admin\n"
           "defaults\n"
           "  mode tcp\n"
           "  timeout connect 2s\n"
           "  timeout client 20s\n"
           "  timeout server 20s\n"
           "frontend fe\n"
           "  bind 127.0.0.1:"
        << port
        << "\n"
           "  default_backend be\n"
           "backend be\n"
        << backend;
    cfg.close();
    auto p = std::make_unique<child_process>(
      "/usr/sbin/haproxy", std::vector<std::string>{"-db", "-f", dir / "haproxy.cfg"});
    bool exited = false;
    for (int i = 0; i < 500 && !listening(port) && !exited; ++i)
      exited = p->wait_exit(std::chrono::milliseconds{10}).has_value(); // lost the port
    if (!exited && listening(port))
      proc = std::move(p);
  }
  REQUIRE_MESSAGE(proc, "haproxy did not start");
}

std::string haproxy::admin(const std::string& command) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  auto path = dir / "admin.sock";
  REQUIRE(path.size() < sizeof(a.sun_path));
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  std::string out;
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  if (!connected)
    ::close(fd);
  REQUIRE_MESSAGE(connected,
                  "haproxy admin socket " << path << ": " << std::strerror(errno));
  auto line = command + "\n";
  bool sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(line.size());
  if (sent) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) // haproxy closes
      out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  REQUIRE_MESSAGE(sent, "haproxy admin socket: the command was not sent");
  return out;
}

void haproxy::stop_checks(const std::string& server, std::chrono::milliseconds settle) {
  auto answer = admin("disable health be/" + server);
  REQUIRE_MESSAGE(answer.find_first_not_of("\n") == std::string::npos,
                  "haproxy: disable health: " << answer);
  std::this_thread::sleep_for(settle);
}

refused_port::refused_port() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  port_ = ntohs(a.sin_port);
}

refused_port::~refused_port() {
  if (fd_ >= 0)
    ::close(fd_);
}

} // namespace kam::test
