#include "tests/support/test_system.hpp"

#include "runtime/ipc.hpp"

namespace kam::test {

test_system::test_system() {
  runtime::add_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  cfg.set("logger.console", caf::atom("none"));
  sys = std::make_unique<caf::actor_system>(cfg);
}

test_system::~test_system() = default;

} // namespace kam::test
