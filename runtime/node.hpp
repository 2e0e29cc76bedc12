#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

namespace kam::runtime {

/// Counters of a node, shared with whoever reports them (kam-serve's admin
/// endpoint). Written by the node actor, read anywhere (relaxed).
struct node_counters {
  std::atomic<uint64_t> peers{0};    ///< peers up now
  std::atomic<uint64_t> sent{0};     ///< publications sent to a peer (one per peer)
  std::atomic<uint64_t> received{0}; ///< publications received from peers and delivered
  std::atomic<uint64_t> dropped{
    0}; ///< publications not sent to a known peer that was not up
  std::atomic<uint64_t> gaps{0};     ///< sequence numbers of a peer never received here
  std::atomic<uint64_t> unrouted{0}; ///< received for a backplane name this node lacks
  std::atomic<uint64_t> refused{
    0}; ///< introductions refused (our own address, a bad one)
};

/// How a node joins the mesh (kam-serve's --node-host/--node-port/--join).
struct node_options {
  /// Address of this node's BASP port, and the host in its node address.
  std::string host = "127.0.0.1";
  /// 0 picks a port. The port is bound with SO_REUSEADDR, so a restarted
  /// node re-binds it at once.
  uint16_t port = 0;
  /// Members to dial, each "HOST:PORT" or "[V6]:PORT" (their node addresses).
  /// Dialed until they answer, and again whenever they go down.
  std::vector<std::string> join;
  /// One line per change of a peer's state, e.g. `peer 127.0.0.1:4001 up`.
  /// Called on the node actor (CAF's scheduler). Null: "node: LINE" on stderr.
  std::function<void(const std::string&)> on_event;
  /// A dialed peer must answer the connect and the introduction within this.
  std::chrono::milliseconds welcome_timeout{2000};
  /// Back-off between dials of an unreachable peer: doubles from min to max.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{2000};
  /// A peer learned from others (not in `join`) that is not up for this long
  /// is forgotten (no more dials, no more drops counted for it).
  std::chrono::milliseconds forget_after{30000};
};

/// A running node: its actor (published on its BASP port) and address.
struct node {
  caf::actor actor;
  /// "HOST:PORT" (or "[V6]:PORT") as peers know this node.
  std::string address;
  uint16_t port = 0;
  std::shared_ptr<node_counters> stats;
};

/// Prepares `cfg` for a node, before the actor_system is made: loads CAF's
/// middleman (libcaf_io) and sets, unless the configuration gives them,
/// `middleman.heartbeat-interval` (500 ms) and `middleman.connection-timeout`
/// (3 s: a frozen peer is dropped within ~3.5 s), and
/// `middleman.app-identifiers` to `kamaelia-caf:COOKIE`, so a CAF node with
/// another cookie (or another CAF application) is refused at the BASP
/// handshake.
void use_node(caf::actor_system_config& cfg, const std::string& cookie);

/// Starts this process's node: spawns the node actor on CAF's scheduler,
/// publishes it on `opts.host:opts.port` through the middleman, and starts
/// dialing `opts.join` in the background (nothing here blocks on a peer).
///
/// The mesh: a node introduces itself to the members it dials (its node
/// address, an incarnation number new for every process, the members it
/// knows) and requires a welcome reply (the same from the other side) within
/// `welcome_timeout`; both then monitor each other's node actor and tell
/// their other peers of the new member. Of two nodes that learned of each
/// other from others, the one with the lower address dials. A peer is down
/// when its node actor's monitor fires (a closed connection, or the
/// middleman's connection timeout for a frozen peer); members in `join`,
/// and learned peers of higher address, are then redialed with back-off.
///
/// Delivery (see federate()): at most once, per-origin order, never
/// duplicated. Errors: a bad host, a port in use (with a message).
caf::expected<node> start_node(caf::actor_system& sys, const node_options& opts);

/// Federates the registered backplane `bp` (runtime/backplane.hpp) through
/// `n`: what is published on this node is delivered here as before and sent
/// once to every peer node that is up, as `(name, origin node, sequence,
/// payload)`; what a peer sends is delivered to this node's subscribers of
/// the same name only, never sent on. The payload must be serializable by
/// CAF (bytes, strings, types added with add_message_type). Any thread.
void federate(const node& n, const caf::actor& bp);

/// The peers up now, by node address (tests, introspection). Blocks until
/// the node answers (at most `timeout`); empty on timeout.
std::vector<std::string>
node_peers(caf::actor_system& sys, const node& n,
           std::chrono::milliseconds timeout = std::chrono::milliseconds{2000});

/// "HOST:PORT", with brackets around an IPv6 host. Pure.
std::string node_address(const std::string& host, uint16_t port);

/// Splits "HOST:PORT" or "[V6]:PORT" (port 1..65535); false and `why` set
/// otherwise. Pure.
bool parse_node_address(const std::string& text, std::string& host, uint16_t& port,
                        std::string& why);

} // namespace kam::runtime
