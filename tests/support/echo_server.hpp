#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include <doctest/doctest.h>

#include "chassis/server.hpp"
#include "protocols/echo/handler.hpp"
#include "tests/support/test_system.hpp"

namespace kam::test {

/// Options for a test server: 127.0.0.1, port 0, two I/O threads.
inline chassis::server_options loopback_options(size_t threads = 2) {
  chassis::server_options opts;
  opts.listen.host = "127.0.0.1";
  opts.listen.port = 0;
  opts.listen.threads = threads;
  opts.drain_timeout = std::chrono::milliseconds(3000);
  return opts;
}

/// The echo protocol's factory for simple_server.
inline chassis::protocol_factory echo_factory() {
  return [](caf::actor_system& sys) { return sys.spawn(protocols::echo::handler); };
}

/// Polls `pred` every 5 ms for at most `timeout`; returns its last value.
inline bool
eventually(const std::function<bool()>& pred,
           std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

} // namespace kam::test
