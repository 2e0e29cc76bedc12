#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <caf/fwd.hpp>

#include "chassis/server.hpp"

namespace kam::runtime::io {
class io_broker;
} // namespace kam::runtime::io

namespace kam::chassis {

/// What the chassis actor needs; shared with the server handle.
struct core_config {
  connection_factory factory;
  std::shared_ptr<runtime::io::io_broker> broker;
  std::shared_ptr<runtime::server_stats> stats;
  std::chrono::milliseconds drain_timeout{5000};
  /// Runs on the chassis actor once it has stopped (everything closed).
  std::function<void()> on_stopped;
};

/// Spawns Kamaelia's ServerCore as a component.
///
/// Inboxes: `_socketact` (`new_csa` from the broker, `shutdown_csa` from
/// CSAs), `control` (`server_shutdown`: graceful drain; `shutdown_microprocess`:
/// drain with no grace). Outbox `signal`: `producer_finished` once stopped.
///
/// Per `new_csa` it calls the factory and wires handler and CSA (see
/// DESIGN.md): CSA outbox -> handler inbox, handler outbox -> CSA inbox,
/// handler signal -> CSA control, handler serversig -> chassis control,
/// CSA signal -> chassis _socketact, CSA ctrlout -> handler control
/// (`pause_producing` / `resume_producing`, see runtime/io/csa.hpp); then
/// tells the CSA to start reading. It
/// monitors both; when both have ended the connection is forgotten.
/// Thread safe (spawns an actor).
caf::actor spawn_server_core(caf::actor_system& sys, core_config cfg);

} // namespace kam::chassis
