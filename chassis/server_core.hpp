#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "chassis/server.hpp"

namespace kam::runtime::io {
class io_broker;
} // namespace kam::runtime::io

namespace kam::chassis {

/// What the chassis needs; shared with the server handle.
struct core_config {
  connection_factory factory;
  std::shared_ptr<runtime::io::io_broker> broker;
  std::shared_ptr<runtime::server_stats> stats;
  std::chrono::milliseconds drain_timeout{5000};
  /// Runs on the coordinator once the server has stopped (everything closed).
  std::function<void()> on_stopped;
  /// Runs on the coordinator when it starts to drain (server_shutdown or
  /// shutdown_microprocess), before the listeners close.
  std::function<void()> on_draining;
};

/// `(turns_atom)` to the coordinator: it answers with how many messages it
/// handled before this one (uint64_t). For tests and introspection: a
/// server that only serves connections keeps it at 0.
using turns_atom = caf::atom_constant<caf::atom("kam_turns")>;

/// Spawns Kamaelia's ServerCore, shared nothing: one chassis *shard* per
/// I/O thread and a small *coordinator*; returns the coordinator (what
/// server::core() gives out; it runs on CAF's scheduler). Shard k is homed on
/// I/O thread k's actor_thread (on CAF's scheduler without one); then the
/// broker starts and sends thread k's connections to shard k.
///
/// A shard makes, wires, serves and forgets each connection of its thread;
/// nothing per connection reaches the coordinator. Per `new_csa` it calls the
/// factory (in the CSA's thread scope, so the handler lives next to its
/// socket) and wires (DESIGN.md): handler outbox -> CSA inbox, handler signal
/// -> CSA control, handler serversig -> *coordinator* control; the CSA's own
/// links (outbox -> handler inbox, ctrlout -> handler control) come with
/// `start`. It monitors CSA and handler; when both have ended the connection
/// is forgotten. Phases (behaviors): accepting -> draining -> forced; it ends
/// once draining, its listener closed and no connection left.
///
/// Introspection (runtime/introspect.hpp): `(connections_atom)` to the
/// coordinator lists the shards still up; to a shard, its connections.
///
/// Coordinator inbox `control`: `server_shutdown` (graceful drain of every
/// shard), `shutdown_microprocess` (drain with no grace); outbox `signal`:
/// `producer_finished` once every shard has ended and the broker stopped.
/// Phases: accepting -> draining -> stopped (it ends). It monitors the shards:
/// a shard's end is its only report.
///
/// Thread safe (spawns an actor).
caf::actor spawn_server_core(caf::actor_system& sys, core_config cfg);

} // namespace kam::chassis
