#pragma once

// Small components and helpers for the composition tests.

#include <chrono>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "runtime/component.hpp"

namespace kam::test {

/// (inbox, int x) -> (outbox, x + 1).
inline caf::behavior add_one(runtime::component* self) {
  return {[self](runtime::inbox_atom, int x) { self->send_on(runtime::outbox, x + 1); }};
}

/// (inbox, bytes) -> (outbox, prefix + bytes).
inline caf::behavior prefixer(runtime::component* self, std::string prefix) {
  return {[self, prefix](runtime::inbox_atom, const runtime::bytes& data) {
    auto out = runtime::to_bytes(prefix);
    out.insert(out.end(), data.begin(), data.end());
    self->send_on(runtime::outbox, std::move(out));
  }};
}

/// Echoes bytes; on any Ipc message on control, says "ctl:<name>" on
/// outbox, then ends as the component's default would.
inline caf::behavior control_probe(runtime::component* self, std::string name) {
  using namespace runtime;
  auto said = [self, name] { self->send_on(outbox, to_bytes("ctl:" + name)); };
  return {
    [self](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
    [self, said](control_atom, producer_finished x) {
      said();
      self->finish(x);
    },
    [self, said](control_atom, socket_shutdown) {
      said();
      self->finish(producer_finished{});
    },
    [self, said](control_atom, shutdown_microprocess x) {
      said();
      self->finish(x);
    },
  };
}

/// Echoes bytes; "bye" ends it (producer_finished on signal), "fail" makes
/// it fail.
inline caf::behavior quitter(runtime::component* self) {
  using namespace runtime;
  return {[self](inbox_atom, bytes& data) {
    auto text = std::string(as_text(data));
    if (text == "bye")
      self->finish(producer_finished{});
    else if (text == "fail")
      self->quit(caf::make_error(caf::sec::runtime_error, "asked to fail"));
    else
      self->send_on(outbox, std::move(data));
  }};
}

/// Waits (bounded) until the actor system runs exactly `n` actors.
inline bool
running_becomes(caf::actor_system& sys, size_t n,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (sys.registry().running() != n) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

} // namespace kam::test
