#include "tools/admin.hpp"

#include <chrono>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "chassis/introspector.hpp"
#include "protocols/chat/handler.hpp"
#include "protocols/http/handler.hpp"
#include "runtime/backplane.hpp"
#include "runtime/component.hpp"
#include "runtime/metrics.hpp"
#include "runtime/node.hpp"

namespace kam::tools {

namespace {

namespace http = protocols::http;
using runtime::exposition;

/// How long /graph waits for the components to answer.
constexpr auto graph_timeout = std::chrono::milliseconds{1500};

std::string dot_id(caf::actor_id id) {
  return "c" + std::to_string(id);
}

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string peer_text(const chassis::component_graph::connection& c) {
  if (c.peer_address.find(':') != std::string::npos)
    return "[" + c.peer_address + "]:" + std::to_string(c.peer_port);
  return c.peer_address + ":" + std::to_string(c.peer_port);
}

http::response text(int status, std::string body,
                    std::string type = "text/plain; charset=utf-8") {
  http::response r;
  r.status = status;
  r.content_type = std::move(type);
  r.body = std::move(body);
  r.headers = "Cache-Control: no-store\r\n";
  return r;
}

} // namespace

std::string metrics_text(const admin_sources& src) {
  exposition e;
  auto& st = src.server->stats();
  e.counter("kam_connections_accepted_total", "Client sockets accepted.",
            st.accepted.load());
  e.gauge("kam_connections_active", "Connections wired to a handler and not yet ended.",
          static_cast<double>(st.active.load()));
  e.counter("kam_connections_closed_total",
            "Connections fully ended (socket adapter and handler).", st.closed.load());
  e.counter("kam_bytes_received_total",
            "Bytes read from client sockets (on the wire, TLS records included).",
            st.bytes_received.load());
  e.counter("kam_bytes_sent_total",
            "Bytes written to client sockets (on the wire, TLS records included).",
            st.bytes_sent.load());
  e.counter("kam_handler_failures_total", "Protocol handlers that ended with an error.",
            st.handler_failures.load());
  e.counter("kam_factory_failures_total",
            "Connections closed because the protocol factory threw or made no actor.",
            st.factory_failures.load());
  e.counter("kam_accept_errors_total",
            "Transient per-connection accept failures skipped (ECONNABORTED, EPROTO, "
            "EPERM, timeouts, unreachable networks).",
            st.accept_errors.load());
  e.counter("kam_fd_exhaustion_backoffs_total",
            "Accept back-offs (100 ms) for EMFILE, ENFILE, ENOBUFS or ENOMEM.",
            st.fd_exhaustion.load());
  e.counter("kam_forced_closes_total",
            "Connections killed at the drain deadline of a shutdown.",
            st.forced_closes.load());
  e.counter("kam_backpressure_pauses_total",
            "Times a connection's output queue passed the high watermark "
            "(pause_producing sent to its handler).",
            st.backpressure_pauses.load());
  e.counter("kam_tls_handshake_failures_total",
            "TLS clients closed before their handshake completed.",
            st.tls_handshake_failures.load(std::memory_order_relaxed));
  e.counter("kam_proxy_header_rejects_total",
            "Connections closed for a missing, malformed or untrusted PROXY protocol "
            "header.",
            st.proxy_header_rejects.load(std::memory_order_relaxed));
  e.counter("kam_backplane_slow_disconnects_total",
            "Pub/sub (chat) clients disconnected because their queued output reached the "
            "write hard limit.",
            st.slow_consumer_disconnects.load(std::memory_order_relaxed));
  e.counter("kam_backplane_relay_dropped_total",
            "Publications the chat backplane did not relay to an I/O thread that lagged "
            "--backplane-relay-limit behind the others.",
            runtime::backplane_relay_dropped(src.backplane));
  e.family("kam_http_requests_total", "counter",
           "HTTP responses sent, by status class (a 400 for an unparseable request is "
           "4xx).");
  static const char* classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (size_t i = 0; i < 5; ++i)
    e.sample("kam_http_requests_total", src.http ? src.http->responses[i].load() : 0,
             {{"code", classes[i]}});
  e.counter("kam_chat_lines_delivered_total",
            "Chat lines handed to a receiving client's connection (one per receiver).",
            src.chat ? src.chat->delivered.load() : 0);
  e.counter("kam_chat_lines_dropped_total",
            "Chat lines that reached no one: longer than --max-line (the sender is "
            "disconnected).",
            src.chat ? src.chat->dropped.load() : 0);
  auto node = [&](std::atomic<uint64_t> runtime::node_counters::*field) -> uint64_t {
    return src.node ? (src.node.get()->*field).load(std::memory_order_relaxed) : 0;
  };
  e.gauge("kam_node_peers", "Peer nodes up (--node-port/--join; 0 without a node).",
          node(&runtime::node_counters::peers));
  e.counter("kam_node_sent_total",
            "Backplane publications sent to peer nodes (one per peer).",
            node(&runtime::node_counters::sent));
  e.counter("kam_node_received_total",
            "Backplane publications received from peer nodes and delivered here.",
            node(&runtime::node_counters::received));
  e.counter("kam_node_dropped_total",
            "Publications not sent to a known peer node because it was not up "
            "(at-most-once delivery).",
            node(&runtime::node_counters::dropped));
  e.counter("kam_node_sequence_gaps_total",
            "Publications of peer nodes that never arrived here (missing sequence "
            "numbers: published while the link was down, or lost with it).",
            node(&runtime::node_counters::gaps));
  e.family("kam_io_thread_busy_seconds_total", "counter",
           "CPU time (user and system) each I/O thread has used: time in handlers and "
           "syscalls, not time blocked waiting in epoll.");
  auto busy = src.server->io_thread_busy_seconds();
  for (size_t i = 0; i < busy.size(); ++i) {
    auto n = std::to_string(i);
    e.sample("kam_io_thread_busy_seconds_total", busy[i], {{"thread", n}});
  }
  e.family("kam_io_thread_connections_accepted_total", "counter",
           "Client sockets each I/O thread accepted (the kernel's SO_REUSEPORT split "
           "of the listeners; they sum to kam_connections_accepted_total).");
  for (size_t i = 0; i < busy.size(); ++i)
    e.sample("kam_io_thread_connections_accepted_total", st.accepted.load(i),
             {{"thread", std::to_string(i)}});
  e.gauge("kam_actors_live",
          "CAF actors running in this process (the admin's own included).",
          static_cast<double>(src.sys->registry().running()));
  e.gauge("kam_draining", "1 once the server has begun its graceful shutdown, else 0.",
          src.server->draining() ? 1 : 0);
  return e.str();
}

std::string graph_json(const chassis::component_graph& g) {
  using nlohmann::json;
  json comps = json::array();
  for (auto& c : g.components) {
    json j;
    j["id"] = c.id;
    j["kind"] = c.kind;
    j["name"] = c.name;
    j["connection"] = c.in_connection ? json(c.connection) : json(nullptr);
    j["inboxes"] = c.inboxes;
    j["outboxes"] = c.outboxes;
    comps.push_back(std::move(j));
  }
  json links = json::array();
  for (auto& l : g.links)
    links.push_back({{"from", {l.from, l.from_box}},
                     {"to", {l.to, l.to_box}},
                     {"passthrough", l.passthrough}});
  json conns = json::array();
  for (auto& c : g.connections)
    conns.push_back({{"id", c.id},
                     {"peer", peer_text(c)},
                     {"csa", c.csa},
                     {"handler", c.handler ? json(c.handler) : json(nullptr)}});
  json out{{"components", std::move(comps)},
           {"links", std::move(links)},
           {"connections", std::move(conns)},
           {"complete", g.complete},
           {"truncated", g.truncated}};
  return out.dump() + "\n";
}

std::string graph_dot(const chassis::component_graph& g) {
  std::string out = "digraph kam {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n"
                    "  edge [fontsize=8];\n";
  std::map<uint64_t, std::string> peers;
  for (auto& c : g.connections)
    peers[c.id] = peer_text(c);
  std::map<uint64_t, std::vector<const chassis::component_graph::component*>> groups;
  std::vector<const chassis::component_graph::component*> server;
  for (auto& c : g.components)
    (c.in_connection ? groups[c.connection] : server).push_back(&c);
  auto node = [&](const chassis::component_graph::component& c, const char* indent) {
    out += indent + dot_id(c.id) + " [label=\"" + dot_escape(c.kind) + " #" +
           std::to_string(c.id) + "\"];\n";
  };
  out += "  subgraph cluster_server {\n    label=\"server\";\n";
  for (auto* c : server)
    node(*c, "    ");
  out += "  }\n";
  for (auto& [conn, members] : groups) {
    out += "  subgraph cluster_conn" + std::to_string(conn) +
           " {\n    label=\"connection " + std::to_string(conn) + " " +
           dot_escape(peers[conn]) + "\";\n";
    for (auto* c : members)
      node(*c, "    ");
    out += "  }\n";
  }
  for (auto& l : g.links)
    out += "  " + dot_id(l.from) + " -> " + dot_id(l.to) + " [label=\"" +
           dot_escape(l.from_box) + " > " + dot_escape(l.to_box) + "\"" +
           (l.passthrough ? ", style=dashed" : "") + "];\n";
  out += "}\n";
  return out;
}

caf::expected<chassis::server> start_admin(caf::actor_system& sys,
                                           const std::string& host, uint16_t port,
                                           admin_sources src) {
  auto hc = std::make_shared<http::config>();
  hc->routes.push_back({"/metrics", [src](runtime::component*, const http::request&,
                                          const std::string&, http::reply_fn reply) {
                          reply(text(200, metrics_text(src), exposition::content_type));
                        }});
  hc->routes.push_back({"/healthz", [src](runtime::component*, const http::request&,
                                          const std::string&, http::reply_fn reply) {
                          if (src.server->draining())
                            reply(text(503, "draining\n"));
                          else
                            reply(text(200, "ok\n"));
                        }});
  auto graph_route = [core = src.server->core()](bool dot) {
    return [core, dot](runtime::component* self, const http::request&, const std::string&,
                       http::reply_fn reply) {
      chassis::introspect(self, core, graph_timeout,
                          [dot, reply](chassis::component_graph& g) {
                            if (dot)
                              reply(text(200, graph_dot(g), "text/vnd.graphviz"));
                            else
                              reply(text(200, graph_json(g), "application/json"));
                          });
    };
  };
  hc->routes.push_back({"/graph", graph_route(false)});
  hc->routes.push_back({"/graph.dot", graph_route(true)});
  hc->routes.push_back({"/", [](runtime::component*, const http::request&,
                                const std::string&, http::reply_fn reply) {
                          reply(text(200, admin_page(), "text/html; charset=utf-8"));
                        }});
  chassis::server_options opts;
  opts.listen.host = host;
  opts.listen.port = port;
  opts.listen.threads = 1;
  opts.listen.thread_name = "kam.admin"; // not one of the served kam.io.N
  opts.listen.backlog = 64;
  opts.listen.max_connections = 64; // a scraper or two, a browser; never a flood
  opts.listen.idle_timeout = std::chrono::seconds{60};
  opts.drain_timeout = std::chrono::milliseconds{500};
  std::shared_ptr<const http::config> cfg = hc;
  return chassis::more_complex_server(
    sys,
    [cfg](caf::actor_system& s, const runtime::connection_info& info) {
      return s.spawn(http::handler, cfg, info);
    },
    opts);
}

} // namespace kam::tools
