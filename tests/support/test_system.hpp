#pragma once

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

namespace kam::test {

/// An actor system for one test: two scheduler threads, kamaelia's types
/// registered. Construct on the test thread.
struct test_system {
  test_system();
  ~test_system();
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor_system& operator*() { return *sys; }
};

} // namespace kam::test
