#pragma once

#include <memory>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "runtime/boxes.hpp"

namespace kam::runtime::io {

namespace detail {
class stream;
} // namespace detail

/// The CSA's outbox to its handler's `control`: flow control
/// (`pause_producing` / `resume_producing`) and the end of input
/// (`socket_shutdown{reason}`, or `producer_finished` when draining).
using ctrlout_atom = caf::atom_constant<caf::atom("ctrlout")>;
constexpr box ctrlout = ctrlout_atom::value;

/// Spawns the ConnectedSocketAdapter actor for one accepted connection.
///
/// Boxes (Kamaelia's CSA):
/// - `inbox`: bytes to write to the client, in order;
/// - `control`: `producer_finished` (flush, FIN, close) or
///   `shutdown_microprocess` (close now); `set_read_deadline{ms}` (close
///   with `timeout` unless the client sends within ms);
/// - `outbox`: bytes read from the client, one message per readiness event;
/// - `signal`: `shutdown_csa` when the client's input ends (peer closed,
///   reset, error, idle timeout, drained for server shutdown);
/// - `ctrlout`: `socket_shutdown{reason}` when the client's input ends
///   (`producer_finished` when drained for server shutdown); `pause_producing` once the
///   bytes queued for the socket pass listen_options::write_high_watermark,
///   `resume_producing` once they are below write_low_watermark again (one pair per
///   episode; the stream decides, in stream::apply_watermarks()).
///   With listen_options::close_slow_consumers, output queued up to
///   write_hard_limit closes the connection at once instead
///   (`socket_shutdown{slow_consumer}`, `shutdown_csa{.., slow_consumer}`).
///
/// It reads nothing until it receives `(start_atom, handler)`, so all links
/// are in place before the first byte. Outboxes not yet linked by then get
/// the standard wiring: `outbox` -> handler `inbox`, `ctrlout` -> handler
/// `control`, `signal` -> the sender's (the chassis's) `_socketact`. It then
/// links itself to the handler
/// (CAF link): when the handler ends normally it flushes and closes, when it
/// fails it closes at once. `(drain_atom)` reads what the client already
/// sent, then reports `shutdown_csa{server_shutdown}`. The actor ends when
/// its socket is closed (or has sent FIN after an orderly close).
///
/// Threads: the CSA is the only surface of its stream other threads see. On
/// the stream's I/O thread (placement `io`, the default) it calls the stream
/// directly; anywhere else (`--placement=scheduler`) it posts each call to
/// that thread, in order. The stream's events come back as messages.
///
/// Call on `conn`'s I/O thread (the broker's accept path), before `conn` is used.
caf::actor spawn_csa(caf::actor_system& sys, std::shared_ptr<detail::stream> conn);

} // namespace kam::runtime::io
