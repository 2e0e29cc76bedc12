#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>

namespace caf {
class actor_system_config;
} // namespace caf

/// Kamaelia's Ipc messages. Every type is inspectable and registered by
/// add_message_types(), so each can cross nodes through CAF's middleman.
namespace kam::runtime {

/// "Finish what you have, then stop." Sent on `signal` by a component that
/// is done producing; received on `control` it asks for an orderly end.
struct producer_finished {};

/// "Stop now." Received on `control`, the component ends without finishing.
struct shutdown_microprocess {};

/// Twisted's IPushProducer.pauseProducing: sent by a CSA (outbox `ctrlout`,
/// which the chassis links to the handler's `control`) when the bytes queued
/// for its socket pass the high watermark: the client reads slower than the
/// handler writes. A handler that can hold back (a file sender, a relay)
/// stops producing until `resume_producing`; one that does not care need do
/// nothing (component's default handler ignores both). Advisory: the CSA
/// keeps queueing, and past its hard limit stops reading from the client.
struct pause_producing {};

/// Twisted's resumeProducing: the queue fell below the low watermark after a
/// `pause_producing`; produce again.
struct resume_producing {};

/// A handler's read deadline: unless bytes arrive from the client within
/// `ms` milliseconds, the CSA closes the connection and the handler gets
/// `socket_shutdown{timeout}`. One-shot: the first bytes to arrive meet it
/// (set it again to wait again); a new one replaces the last; 0 clears it.
/// Sent to the CSA's `control` (a handler sends it on `signal`, which the
/// chassis links there). Ignored once the client's input has ended.
struct set_read_deadline {
  uint32_t ms = 0;
};

/// Why a connection's input ended.
enum class shutdown_reason : uint8_t {
  peer_closed,     ///< The peer sent FIN (it may still be reading).
  reset,           ///< The peer reset the connection.
  error,           ///< A socket error other than a reset.
  timeout,         ///< No traffic within the idle timeout.
  server_shutdown, ///< The server is draining.
  closed,          ///< Closed at the handler's request.
  slow_consumer,   ///< Output over the write hard limit on a pub/sub connection.
};

/// Returns the reason's name, e.g. "peer_closed".
const char* to_string(shutdown_reason x);

/// The socket's input is over. Sent by the handler's CSA on its outbox
/// `ctrlout` (which the CSA links to the handler's `control`), not by the
/// chassis; a composite passes it on to its children.
struct socket_shutdown {
  shutdown_reason reason = shutdown_reason::peer_closed;
};

/// Sent to the chassis's `control`: stop accepting, drain, stop.
struct server_shutdown {};

/// The addresses of one connection.
struct connection_info {
  uint64_t id = 0;
  /// The client: the socket's peer, or with a PROXY header (listen_options::
  /// proxy_protocol) the original client the header names. `unix:` (plus the
  /// client's path, if it bound one) on a Unix socket; the port is then 0.
  std::string peer_address;
  uint16_t peer_port = 0;
  /// Our side of the socket (`unix:PATH` on a Unix socket).
  std::string local_address;
  uint16_t local_port = 0;
  /// With a PROXY header: the socket's real peer (the proxy); empty otherwise.
  /// A v2 LOCAL or v1 UNKNOWN header (a health check) keeps peer_address as
  /// the socket's peer, so both name the proxy.
  std::string proxy_address;
  uint16_t proxy_port = 0;
};

/// From the I/O broker to the chassis's `_socketact`: a client connected;
/// `csa` is the ConnectedSocketAdapter actor that owns its socket.
struct new_csa {
  caf::actor csa;
  connection_info info;
};

/// From a CSA to the chassis's `_socketact`: its socket's input ended.
struct shutdown_csa {
  caf::actor csa;
  shutdown_reason reason = shutdown_reason::peer_closed;
};

inline bool operator==(producer_finished, producer_finished) {
  return true;
}
inline bool operator==(shutdown_microprocess, shutdown_microprocess) {
  return true;
}
inline bool operator==(server_shutdown, server_shutdown) {
  return true;
}
inline bool operator==(pause_producing, pause_producing) {
  return true;
}
inline bool operator==(resume_producing, resume_producing) {
  return true;
}
inline bool operator==(const set_read_deadline& x, const set_read_deadline& y) {
  return x.ms == y.ms;
}
inline bool operator==(const socket_shutdown& x, const socket_shutdown& y) {
  return x.reason == y.reason;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, producer_finished&) {
  return f(caf::meta::type_name("producer_finished"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_microprocess&) {
  return f(caf::meta::type_name("shutdown_microprocess"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_shutdown&) {
  return f(caf::meta::type_name("server_shutdown"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pause_producing&) {
  return f(caf::meta::type_name("pause_producing"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resume_producing&) {
  return f(caf::meta::type_name("resume_producing"));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, set_read_deadline& x) {
  return f(caf::meta::type_name("set_read_deadline"), x.ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, socket_shutdown& x) {
  return f(caf::meta::type_name("socket_shutdown"), x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_info& x) {
  return f(caf::meta::type_name("connection_info"), x.id, x.peer_address, x.peer_port,
           x.local_address, x.local_port, x.proxy_address, x.proxy_port);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_csa& x) {
  return f(caf::meta::type_name("new_csa"), x.csa, x.info);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_csa& x) {
  return f(caf::meta::type_name("shutdown_csa"), x.csa, x.reason);
}

/// Several messages for one box, in order, sent as one: a component handles
/// `(box, message_batch)` as if each of `xs` had arrived on `box`, one after
/// another, in one turn (component::handle_batch()). What a backplane hub
/// hands a subscriber for a round of publications: one hop, not one per
/// publication. A component may match it itself to do better (the coalescing
/// line joiner appends every line batch at once).
struct message_batch {
  std::vector<caf::message> xs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_batch& x) {
  return f(caf::meta::type_name("message_batch"), x.xs);
}

/// Registers every Ipc type with `cfg` (call before creating the actor
/// system) so the types print and serialize by name.
void add_message_types(caf::actor_system_config& cfg);

} // namespace kam::runtime
