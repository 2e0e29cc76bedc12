#pragma once

#include <memory>

#include <caf/fwd.hpp>

namespace kam::runtime::io {

namespace detail {
class tcp_connection;
} // namespace detail

/// Spawns the ConnectedSocketAdapter actor for one accepted connection.
///
/// Boxes (Kamaelia's CSA):
/// - `inbox`: bytes to write to the client, in order;
/// - `control`: `producer_finished` (flush, FIN, close) or
///   `shutdown_microprocess` (close now);
/// - `outbox`: bytes read from the client, one message per readiness event;
/// - `signal`: `shutdown_csa` when the client's input ends (peer closed,
///   reset, error, drained for server shutdown).
///
/// It reads nothing until it receives `(start_atom, handler)`, so all links
/// are in place before the first byte; it then links itself to the handler
/// (CAF link): when the handler ends normally it flushes and closes, when it
/// fails it closes at once. `(drain_atom)` reads what the client already
/// sent, then reports `shutdown_csa{server_shutdown}`. The actor ends when
/// its socket is closed (or has sent FIN after an orderly close).
/// Call on `conn`'s I/O thread (the broker's accept path), before `conn` is used.
caf::actor spawn_csa(caf::actor_system& sys, std::shared_ptr<detail::tcp_connection> conn);

} // namespace kam::runtime::io
