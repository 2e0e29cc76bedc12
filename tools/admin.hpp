#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "chassis/server.hpp"

namespace kam::chassis {
struct component_graph;
} // namespace kam::chassis

namespace kam::protocols::http {
struct counters;
} // namespace kam::protocols::http

namespace kam::protocols::chat {
struct counters;
} // namespace kam::protocols::chat

namespace kam::runtime {
struct node_counters;
} // namespace kam::runtime

namespace kam::tools {

/// What kam-serve's admin endpoint reports on (docs/admin.md).
struct admin_sources {
  caf::actor_system* sys = nullptr;
  /// The served (main) server; must outlive the admin server.
  const chassis::server* server = nullptr;
  /// The protocols' counters (null: reported as 0).
  std::shared_ptr<protocols::http::counters> http;
  std::shared_ptr<protocols::chat::counters> chat;
  /// The federation node's counters (null: no node, reported as 0).
  std::shared_ptr<runtime::node_counters> node;
  /// The chat backplane (null: none, reported as 0).
  caf::actor backplane;
};

/// The `/metrics` body: Prometheus text exposition 0.0.4, every family
/// `kam_`-prefixed with HELP and TYPE. Reads counters only (relaxed loads,
/// CPU clocks): never stops an I/O thread. Any thread.
std::string metrics_text(const admin_sources& src);

/// The `/graph` body (JSON; shape in docs/admin.md). Pure.
std::string graph_json(const chassis::component_graph& g);

/// The `/graph.dot` body (Graphviz; one cluster per connection). Pure.
std::string graph_dot(const chassis::component_graph& g);

/// The `/` page: draws `/graph` as SVG, refreshes every 2 s; no external assets.
const std::string& admin_page();

/// Starts the admin endpoint on `host:port` (0 picks a port): its own
/// chassis server (one I/O thread, the project's HTTP handler with routes
/// for /metrics, /healthz, /graph, /graph.dot and /), so its connections
/// are not counted in `src.server`'s stats and it keeps answering while
/// that server drains. Errors: bind failures, with a message.
caf::expected<chassis::server> start_admin(caf::actor_system& sys,
                                           const std::string& host, uint16_t port,
                                           admin_sources src);

} // namespace kam::tools
