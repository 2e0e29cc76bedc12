#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/process.hpp"

namespace kam::test {

/// A fresh directory under /tmp (short: sun_path holds 107 bytes), removed
/// with what is in it.
struct temp_dir {
  std::string path;
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

/// Whether something listens on 127.0.0.1:port, from /proc/net/tcp (a probe
/// connect through haproxy would be forwarded and seen by the server).
bool listening(uint16_t port);

/// A real haproxy (Debian's /usr/sbin/haproxy) in `mode tcp` on
/// 127.0.0.1:port. `backend` is the body of its one backend section, e.g.
/// "  server kam 127.0.0.1:P send-proxy-v2\n". The frontend port is chosen
/// with free_port(); if another process takes it before haproxy binds it
/// (haproxy exits), a new one is tried, up to 5 times. Fails the test
/// (REQUIRE) if haproxy never listens.
struct haproxy {
  temp_dir dir;
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  explicit haproxy(const std::string& backend);

  /// One command on haproxy's admin socket (its runtime API), e.g. "disable
  /// health be/kam"; returns haproxy's answer.
  std::string admin(const std::string& command);

  /// Stops scheduling health checks of backend server `be/<server>` and
  /// waits `settle` for one already running to finish, so stopping haproxy
  /// then cuts no check short (a TLS check cut mid-handshake is, rightly, a
  /// handshake failure on the server).
  void stop_checks(const std::string& server,
                   std::chrono::milliseconds settle = std::chrono::milliseconds{300});
};

/// A loopback port held by a bound socket that does not listen: a connect to
/// it is refused, and no other socket (nor an ephemeral source port) can take
/// it while this lives. For "a peer that is down".
class refused_port {
public:
  refused_port();
  ~refused_port();
  refused_port(const refused_port&) = delete;
  refused_port& operator=(const refused_port&) = delete;
  uint16_t port() const { return port_; }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

} // namespace kam::test
