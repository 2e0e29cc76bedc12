#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace kam::chassis {

/// A snapshot of a server's live component graph (Kamaelia's Introspector).
struct component_graph {
  struct component {
    caf::actor_id id = 0;
    /// "chassis" (the coordinator), "shard", "csa", "handler" (a
    /// connection's handler, whatever it is), else the actor's name without
    /// "kam." ("component", "composite", "publish_to", ...), or "actor" for
    /// an actor that is no component (it did not describe itself).
    std::string kind;
    std::string name; ///< the actor's name(), e.g. "kam.csa"; empty if unknown
    bool in_connection = false;
    uint64_t connection = 0; ///< connection_info::id, if in_connection
    std::vector<std::string> inboxes;
    std::vector<std::string> outboxes;
  };
  struct link {
    caf::actor_id from = 0;
    std::string from_box;
    caf::actor_id to = 0;
    std::string to_box;
    /// A composite's route: its inbox -> a child's inbox (or its own outbox).
    bool passthrough = false;
  };
  struct connection {
    uint64_t id = 0;
    std::string peer_address;
    uint16_t peer_port = 0;
    caf::actor_id csa = 0;
    caf::actor_id handler = 0; ///< 0 once the handler ended (the CSA lingers)
  };
  std::vector<component> components;
  std::vector<link> links;
  std::vector<connection> connections;
  /// False if some actor did not answer in time (its boxes are missing).
  bool complete = true;
  /// True if there were more than the connection limit (the rest left out).
  bool truncated = false;
};

/// Collects the live graph of the server whose coordinator is `core`
/// (server::core()) and calls `done` with it, on `self`, once every asked
/// actor answered or `timeout` passed. Asynchronous: it sends requests
/// (`connections_atom` to the coordinator and each shard, `introspect_atom`
/// to each component, see runtime/introspect.hpp) and returns at once; each
/// component answers on its own thread, so no link table is read by another
/// thread and no I/O thread waits. At most `max_connections` connections
/// are walked (`truncated` says more were live).
///
/// Call on `self`'s own thread (from its behavior); `done` runs there.
void introspect(caf::event_based_actor* self, const caf::actor& core,
                std::chrono::milliseconds timeout,
                std::function<void(component_graph&)> done,
                size_t max_connections = 1000);

} // namespace kam::chassis
