#pragma once

#include <caf/atom.hpp>

namespace kam::runtime {

/// A box name. Boxes are named by CAF atoms, so a name has at most 10
/// characters (letters, digits, '_' and ' '). A message sent to inbox `x`
/// arrives as `(x, payload...)`, and a behavior matches it with `x`'s atom
/// constant as the first argument, e.g. `[](inbox_atom, bytes& data) {...}`.
using box = caf::atom_value;

// -- Kamaelia's standard boxes -----------------------------------------------

using inbox_atom = caf::atom_constant<caf::atom("inbox")>;
using control_atom = caf::atom_constant<caf::atom("control")>;
using outbox_atom = caf::atom_constant<caf::atom("outbox")>;
using signal_atom = caf::atom_constant<caf::atom("signal")>;

/// Kamaelia's `serversignal` outbox: a handler linked through it can stop
/// the whole server (the name is shortened to fit an atom).
using serversig_atom = caf::atom_constant<caf::atom("serversig")>;

/// The chassis's `_socketactivity` inbox (`new_csa`, `shutdown_csa`).
using socketact_atom = caf::atom_constant<caf::atom("_socketact")>;

constexpr box inbox = inbox_atom::value;
constexpr box control = control_atom::value;
constexpr box outbox = outbox_atom::value;
constexpr box signal = signal_atom::value;
constexpr box serversig = serversig_atom::value;
constexpr box socketact = socketact_atom::value;

// -- runtime-internal requests -------------------------------------------------

/// `(link_atom, outbox, dest, inbox)`: add a link owned by the receiver.
using link_atom = caf::atom_constant<caf::atom("kam_link")>;
/// `(unlink_atom, outbox)`: drop every link from the receiver's outbox;
/// `(unlink_atom, outbox, dest, inbox)`: drop one.
using unlink_atom = caf::atom_constant<caf::atom("kam_unlink")>;
/// `(start_atom, handler)`: wiring done, the CSA may start reading.
using start_atom = caf::atom_constant<caf::atom("kam_start")>;
/// `(drain_atom)`: the CSA reads what the client already sent, then stops.
using drain_atom = caf::atom_constant<caf::atom("kam_drain")>;

/// `(socketact_atom, listener_closed_atom)`: from each I/O thread to the
/// chassis once its listener is closed; sent after that thread's last
/// `new_csa`, so the chassis knows no connection is still on its way.
using listener_closed_atom = caf::atom_constant<caf::atom("kam_lclsd")>;

} // namespace kam::runtime
